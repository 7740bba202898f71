package sched

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind names a scheduling algorithm, as `ipvsadm -s NAME` does. The zero Kind is
// invalid: a configuration that does not name a scheduler uses DefaultKind.
type Kind uint8

// The LVS schedulers. Each one's rule is documented on its pick function and in
// README.md.
const (
	RR    Kind = iota + 1 // round robin (ip_vs_rr)
	WRR                   // weighted round robin (ip_vs_wrr)
	LC                    // least connection (ip_vs_lc)
	WLC                   // weighted least connection (ip_vs_wlc)
	SED                   // shortest expected delay (ip_vs_sed)
	NQ                    // never queue (ip_vs_nq)
	SH                    // source hashing (ip_vs_sh)
	DH                    // destination hashing (ip_vs_dh)
	LBLC                  // locality-based least connection (ip_vs_lblc)
	LBLCR                 // locality-based least connection with replication (ip_vs_lblcr)
	MH                    // Maglev hashing (ip_vs_mh)
	FO                    // weighted failover (ip_vs_fo)
	OVF                   // weighted overflow (ip_vs_ovf)
	TWOS                  // weighted random of two choices (ip_vs_twos, Linux 6.5)
)

// DefaultKind is the scheduler ipvsadm uses when -s is not given.
const DefaultKind = WLC

var kindNames = [...]string{
	RR: "rr", WRR: "wrr", LC: "lc", WLC: "wlc", SED: "sed", NQ: "nq", SH: "sh",
	DH: "dh", LBLC: "lblc", LBLCR: "lblcr", MH: "mh", FO: "fo", OVF: "ovf", TWOS: "twos",
}

func (k Kind) valid() bool { return k >= RR && k <= TWOS }

// String returns the ipvsadm name ("wlc"), or "Kind(N)" for an invalid Kind.
func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind parses an ipvsadm scheduler name. Names are lower case, as the kernel
// module names are.
func ParseKind(name string) (Kind, error) {
	for k := RR; k <= TWOS; k++ {
		if kindNames[k] == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("sched: unknown scheduler %q (accepted: %s)", name, strings.Join(kindNames[RR:], ", "))
}

// MarshalText implements encoding.TextMarshaler (TOML and JSON use it).
func (k Kind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("sched: cannot marshal invalid scheduler %s", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseKind.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// allowedFlags are the -b flags that mean something to the scheduler.
func (k Kind) allowedFlags() Flags {
	switch k {
	case SH:
		return SHFallback | SHPort
	case MH:
		return MHFallback | MHPort
	}
	return 0
}
