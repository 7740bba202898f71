package lcore

import (
	"net/netip"
	"testing"

	"fngw/dpdk"
	"fngw/nat"
	"fngw/test/harness"
)

// flagIO is the dpdktest device with the NIC's offload verdict set on every
// received mbuf, as a PMD with rx checksum offload does.
type flagIO struct {
	IO
	flags uint64
}

func (f flagIO) RxBurst(port, queue uint16, b *dpdk.Burst) int {
	n := f.IO.RxBurst(port, queue, b)
	for _, m := range b.Pkts[:n] {
		m.SetOlFlags(f.flags)
	}
	return n
}

// TestWorkerDropsHostileInput: packets the worker drops before or instead of
// the control lcore, each under its reason, nothing sent, nothing leaked.
func TestWorkerDropsHostileInput(t *testing.T) {
	syn := harness.TCPSyn(toGateway, 1234, 22, 1)
	bh := toGateway
	bh.Src = netip.MustParseAddr("198.18.1.255")
	bcastSYN := harness.TCPSyn(bh, 1234, 80, 1)
	from := func(src string) []byte {
		h := toGateway
		h.Src = netip.MustParseAddr(src)
		return harness.ICMPEchoRequest(h, 1, 1, nil)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		flags uint64
		want  Reason
	}{
		{"tcp to the gateway's address", syn, 0, LocalUnhandled},
		{"udp to the gateway's address", harness.UDP(toGateway, 1234, 53, []byte("q")), 0, LocalUnhandled},
		{"nic says l4 checksum bad", syn, dpdk.RxIPCksumGood | dpdk.RxL4CksumBad, BadL4Checksum},
		{"nic says ip checksum bad", syn, dpdk.RxIPCksumBad | dpdk.RxL4CksumGood, BadIPv4Checksum},
		{"source 0.0.0.0", from("0.0.0.0"), 0, MartianSource},
		{"source loopback", from("127.0.0.1"), 0, MartianSource},
		{"source multicast", from("224.0.0.5"), 0, MartianSource},
		{"source broadcast", from("255.255.255.255"), 0, MartianSource},
		{"source class e", from("240.0.0.1"), 0, MartianSource},
		{"echo from the connected subnet's broadcast", from("198.18.1.255"), 0, BroadcastSource},
		{"syn from the connected subnet's broadcast", bcastSYN, 0, BroadcastSource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.w.cfg.IO = flagIO{r.dev, tc.flags}
			r.dev.Push(0, 0, 0, tc.frame)
			r.turn()
			if s := r.droppedOnly(tc.want); s.ToControl != 0 {
				t.Errorf("%d packets handed to the control lcore", s.ToControl)
			}
			r.noLeaks()
		})
	}
}

// TestNICGoodChecksumsSkipSoftwareCheck: with the NIC's "IP checksum good"
// verdict the worker trusts it (the packet reaches the stack, whose ICMP
// handler checks again and answers).
func TestNICGoodChecksumsSkipSoftwareCheck(t *testing.T) {
	r := newRig(t)
	r.w.cfg.IO = flagIO{r.dev, dpdk.RxIPCksumGood}
	r.dev.Push(0, 0, 0, harness.ICMPEchoRequest(toGateway, 1, 1, []byte("x")))
	r.turn()
	if s := r.w.Stats(); s.ToControl != 1 || len(r.dev.Sent(0)) != 1 {
		t.Fatalf("echo request not answered: %+v", s)
	}
	r.noLeaks()
}

// TestReasonNamesDisjoint: worker and datapath reasons share the
// core_drops_total{reason} series and the drops map of `gw stats`, so no
// name may be used by both (the metrics collector refuses duplicates).
func TestReasonNamesDisjoint(t *testing.T) {
	seen := map[string]bool{}
	for r := Reason(0); r < NumReasons; r++ {
		seen[r.String()] = true
	}
	for r := nat.DropReason(0); r < nat.NumDropReasons; r++ {
		if seen[r.String()] {
			t.Errorf("drop reason %q is both a worker and a datapath reason", r)
		}
	}
}
