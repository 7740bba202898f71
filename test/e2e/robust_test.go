package e2e

import (
	"fmt"
	"testing"

	"fngw/test/harness"
)

// IP fragments through the gateway with real kernel stacks: the
// client's kernel fragments a UDP datagram larger than the link MTU, the
// gateway forwards every fragment with its first fragment's rewrite (it does
// not reassemble), the real server's kernel reassembles and echoes the
// datagram, fragmented again by its own kernel, and the client's kernel
// reassembles the echo. A datagram arrives whole or not at all, so a
// byte-identical echo of every datagram proves every fragment crossed both
// ways. The largest is the largest UDP payload IPv4 carries (65507 bytes,
// 45 fragments).

// fragSizes are the datagram sizes sent: one that fits, then 2 to 45
// fragments at MTU 1500.
var fragSizes = []int{1400, 1473, 3000, 8972, 20000, 65507}

// fragDrops are the drops that mean a fragment was lost or refused.
var fragDrops = []string{"frag_no_first", "frag_table_full", "fragment", "too_big", "malformed_l4", "no_session"}

// udpFragments runs e2epeer udp with each size (flows x n datagrams) to the
// FULLNAT UDP service and fails unless every datagram was echoed intact.
func (tp *fnTopo) udpFragments(t *testing.T, flows, n int) {
	t.Helper()
	for _, size := range fragSizes {
		fl := flows
		if size > 16000 {
			// The echo server's socket buffer (rmem_default, 212992
			// bytes, not settable per namespace) holds two reassembled
			// 65507-byte datagrams: more flows at once overflow it in
			// the real server's kernel (UdpRcvbufErrors), not here.
			fl = min(flows, 2)
		}
		var rep udpReport
		tp.peerRun(t, tp.client, 60e9, &rep, "udp", "-addr", fnUDP, "-flows", fmt.Sprint(fl), "-n", fmt.Sprint(n), "-size", fmt.Sprint(size))
		if rep.Sent != fl*n || rep.Echoed != rep.Sent || rep.Bad != 0 {
			links, _ := tp.g.Cmd("link", "show", "-s")
			cl, _ := tp.client.Run("ip", "-s", "link")
			sw, _ := tp.sw.Run("ip", "-s", "link")
			nst, _ := tp.client.Run("nstat", "-as")
			r1, _ := tp.rs[0].Run("nstat", "-as")
			r2, _ := tp.rs[1].Run("nstat", "-as")
			nst += "\nRS1\n" + r1 + "\nRS2\n" + r2
			t.Errorf("%d-byte datagrams: sent %d, echoed %d, bad %d, errors %v; want all %d echoed\n%s\n%s\nclient:\n%s\nswitch:\n%s\n%s",
				size, rep.Sent, rep.Echoed, rep.Bad, rep.Errors, fl*n, tp.stats(t), links, cl, sw, nst)
		}
	}
}

func checkNoFragDrops(t *testing.T, cs []coreJSON) {
	t.Helper()
	for _, c := range cs {
		for _, r := range fragDrops {
			if n := c.Drops[r]; n != 0 {
				t.Errorf("core %d dropped %d packets for %s", c.Core, n, r)
			}
		}
	}
	checkNoBadDrops(t, cs)
}

// TestFragmentsFullNAT: UDP datagrams of up to 65507 bytes echoed through a
// FULLNAT service (both real servers, rr), one worker: every datagram comes
// back byte-identical, the real servers saw only local addresses, and no
// fragment was dropped.
func TestFragmentsFullNAT(t *testing.T) {
	tp := startFullNAT(t, fnOpts{})
	tp.addFullNATServices(t, "rr")
	tp.udpFragments(t, 4, 5)
	tp.checkPeersAreLIPs(t, "udp")
	checkNoFragDrops(t, tp.cores(t))
}

// TestFragmentsFullNATTwoWorkers: the same with two workers sharing CPU 1
// and two queues per tap: the kernel puts all fragments of a datagram on one
// queue (its hash of a fragment has no ports), and a real server's answer
// reaching the core that does not own its local port is redirected, first
// fragment and later ones alike, to the owner.
func TestFragmentsFullNATTwoWorkers(t *testing.T) {
	tp := startFullNAT(t, fnOpts{cfg: harness.Config{Lcores: "0@0,1@1,2@1"}, queues: 2})
	tp.addFullNATServices(t, "rr")
	tp.udpFragments(t, 8, 5)
	tp.checkPeersAreLIPs(t, "udp")
	cs := tp.cores(t)
	checkNoFragDrops(t, cs)
	var red uint64
	for _, c := range cs {
		red += c.RedirectOut
	}
	t.Logf("redirected %d packets between the cores", red)
}

// TestFragmentsNAT: UDP echo of datagrams of random sizes up to 20000 bytes
// through a NAT service (the real server routes back through the gateway),
// one worker, then two (fragments follow NATOwner's core).
func TestFragmentsNAT(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    mdOpts
	}{
		{"one_worker", mdOpts{}},
		{"two_workers", mdOpts{cfg: harness.Config{Lcores: "0@0,1@1,2@1"}, queues: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := mdStart(t, "nat", tc.o)
			tp.addServices(t)
			tp.udpEcho(t, 100, 20000)
			tp.checkDrops(t)
		})
	}
}
