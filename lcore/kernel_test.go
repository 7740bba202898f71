package lcore

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"testing"

	"fngw/arp"
	"fngw/dpdk"
	"fngw/dpdk/dpdktest"
	"fngw/nat"
	"fngw/test/harness"
)

// kernelRig is a one-worker datapath (Build) over dpdktest whose port 0
// (198.18.1.1/24) has a kernel path on port 1; the test turns the loops.
type kernelRig struct {
	t   *testing.T
	dev *dpdktest.Dev
	d   *Datapath
	now int64
}

func newKernelRig(t *testing.T, kernel bool, rate, burst int) *kernelRig {
	t.Helper()
	r := &kernelRig{t: t, dev: dpdktest.NewDev(1024), now: 1}
	lim := nat.Limits{MaxServices: 4, MaxDests: 4, MaxLocalAddrs: 4}
	p := Plan{Workers: []WorkerPlan{{CPU: -1, Rx: []Queue{{Port: 0, Queue: 0}}}}, NumPorts: 1, IO: r.dev,
		NewBurst: dpdk.NewGoBurst, NewRing: func(_ string, n int) (Ring, error) { return dpdktest.NewRing(n), nil },
		RedirectRing: 64, ControlRing: 64, ARPRing: 16, Sessions: 1024, Limits: lim}
	if kernel {
		p.Kernel = []KernelLink{{Data: 0, Kernel: 1}}
	}
	d, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	d.Control.cfg.KernelRate, d.Control.cfg.KernelBurst = rate, burst
	d.Control.kernel = nil
	d.Control.newKernelPaths(dpdk.NewGoBurst)
	st := d.Stack()
	if err := st.AddPort(arp.Port{ID: 0, Name: "dpdk0", MAC: gwMAC, MTU: 1500}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAddr(0, netip.MustParsePrefix("198.18.1.1/24"), arp.OwnInterface); err != nil {
		t.Fatal(err)
	}
	svcs, err := nat.NewServices(nil, nat.Timeouts{}, lim)
	if err != nil {
		t.Fatal(err)
	}
	d.Services.Store(svcs)
	r.d = d
	return r
}

// turn runs the worker, the control lcore, and the worker again.
func (r *kernelRig) turn() {
	r.now += 1000
	w, c := r.d.Workers[0], r.d.Control
	w.Poll(r.now)
	c.poll(r.now)
	c.flush()
	w.Poll(r.now)
}

// TestKernelPath: what is addressed to the gateway and not consumed by it
// (TCP to an interface address, a protocol other than ICMP, VRRP to its
// link-local multicast group) reaches the port's kernel interface
// unchanged; ARP is answered and copied to it; what the kernel sends leaves
// the data port unchanged; ICMP echo stays the gateway's. Without a kernel
// path, TCP to the gateway is dropped as local_unhandled.
func TestKernelPath(t *testing.T) {
	r := newKernelRig(t, true, 0, 0)
	ssh := harness.TCPSyn(toGateway, 40000, 22, 1)
	vrrpHosts := harness.Hosts{SrcMAC: clientMAC, DstMAC: net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12},
		Src: clientIP, Dst: netip.MustParseAddr("224.0.0.18")}
	vrrp := harness.WithIPv4Protocol(harness.UDP(vrrpHosts, 1, 1, []byte("vrrp advertisement")), 112)
	arpReq := harness.ARPRequest(clientMAC, clientIP, gwIP)
	for _, f := range [][]byte{ssh, vrrp, arpReq} {
		r.dev.Push(0, 0, 0, f)
	}
	r.dev.Push(0, 0, 0, harness.ICMPEchoRequest(toGateway, 1, 1, nil))
	r.turn()
	toKernel := r.dev.Sent(1)
	if len(toKernel) != 3 || !slices.ContainsFunc(toKernel, func(f []byte) bool { return bytes.Equal(f, ssh) }) ||
		!slices.ContainsFunc(toKernel, func(f []byte) bool { return bytes.Equal(f, vrrp) }) ||
		!slices.ContainsFunc(toKernel, func(f []byte) bool { return bytes.Equal(f, arpReq) }) {
		t.Fatalf("the kernel interface got %d frames, want the SYN, VRRP and a copy of the ARP request:\n%s", len(toKernel), harness.DescribeAll(toKernel))
	}
	out := r.dev.Sent(0)
	if len(out) != 2 { // the ARP reply and the echo reply, from the gateway
		t.Fatalf("the data port sent %d frames, want the ARP and echo replies:\n%s", len(out), harness.DescribeAll(out))
	}

	fromKernel := harness.TCPSyn(toGateway.Reverse(), 22, 40000, 9)
	r.dev.Push(1, 0, 0, fromKernel)
	r.turn()
	if out := r.dev.Sent(0); len(out) != 1 || !bytes.Equal(out[0], fromKernel) {
		t.Fatalf("from the kernel, the data port sent:\n%s", harness.DescribeAll(out))
	}
	st := r.d.Control.KernelStats(0)
	if st.ToPackets != 3 || st.FromPackets != 1 || st.FromBytes != uint64(len(fromKernel)) || st.ToDropped != 0 {
		t.Errorf("kernel counters %+v", st)
	}
	if n := r.dev.Pool.InUse(); n != 0 {
		t.Errorf("%d mbufs leaked", n)
	}

	none := newKernelRig(t, false, 0, 0)
	none.dev.Push(0, 0, 0, ssh)
	none.dev.Push(0, 0, 0, vrrp)
	none.turn()
	if s := none.d.Workers[0].Stats(); s.Drops[LocalUnhandled] != 1 || s.Drops[L2Multicast] != 1 {
		t.Errorf("without a kernel path: drops %v", s.Drops)
	}
}

// TestKernelRateLimit: the kernel's frames beyond the link's rate are
// dropped and counted, never queued without bound.
func TestKernelRateLimit(t *testing.T) {
	r := newKernelRig(t, true, 1, 5)
	f := harness.TCPSyn(toGateway.Reverse(), 22, 40000, 9)
	for range 20 {
		r.dev.Push(1, 0, 0, f)
	}
	r.turn()
	st := r.d.Control.KernelStats(0)
	if st.FromPackets != 5 || st.FromLimited != 15 || len(r.dev.Sent(0)) != 5 {
		t.Errorf("20 frames at burst 5: %+v", st)
	}
	if n := r.dev.Pool.InUse(); n != 0 {
		t.Errorf("%d mbufs leaked", n)
	}
}
