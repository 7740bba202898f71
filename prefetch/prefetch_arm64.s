#include "textflag.h"

// func Lines(addrs []uintptr)
TEXT ·Lines(SB), NOSPLIT|NOFRAME, $0-24
	MOVD	addrs_base+0(FP), R1
	MOVD	addrs_len+8(FP), R2
	CBZ	R2, done
loop:
	MOVD.P	8(R1), R0
	PRFM	(R0), PLDL1KEEP
	SUB	$1, R2
	CBNZ	R2, loop
done:
	RET

// func Line(addr uintptr)
TEXT ·Line(SB), NOSPLIT|NOFRAME, $0-8
	MOVD	addr+0(FP), R0
	PRFM	(R0), PLDL1KEEP
	RET
