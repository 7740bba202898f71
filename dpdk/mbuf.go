package dpdk

// Mbuf is an rte_mbuf. Values are only ever used through pointers into mbuf memory
// owned by a mempool (or, in tests, memory laid out the same way by package
// dpdktest). Whoever holds the pointer owns the packet until it hands it to a tx
// burst, a ring, or a free.
type Mbuf struct {
	_ [mbufSize]byte
}

// Offsets of the rte_mbuf fields we touch (DPDK 22.11, 64-bit). layout.go checks
// them against offsetof() at init when cgo is on.
const (
	mbufSize         = 128
	offBufAddr       = 0
	offDataOff       = 16
	offRefcnt        = 18
	offNbSegs        = 20
	offPort          = 22
	offOlFlags       = 24
	offPacketType    = 32
	offPktLen        = 36
	offDataLen       = 40
	offVlanTCI       = 42
	offRSS           = 44
	offBufLen        = 54
	offNext          = 64
	offTxOffload     = 72
	DefaultHeadroom  = 128
	MbufStructSize   = mbufSize
	RxRSSHash        = uint64(1) << 1
	RxVLAN           = uint64(1) << 0
	RxL4CksumBad     = uint64(1) << 3
	RxIPCksumBad     = uint64(1) << 4
	RxIPCksumGood    = uint64(1) << 7
	RxL4CksumGood    = uint64(1) << 8
	RxIPCksumMask    = RxIPCksumBad | RxIPCksumGood
	RxL4CksumMask    = RxL4CksumBad | RxL4CksumGood
	TxTCPCksum       = uint64(1) << 52
	TxUDPCksum       = uint64(3) << 52
	TxIPCksum        = uint64(1) << 54
	TxIPv4           = uint64(1) << 55
	TxL4Mask         = uint64(3) << 52
	txOffloadL2Shift = 0
	txOffloadL3Shift = 7
)
