package lcore

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/arp"
	"fngw/dpdk"
	"fngw/dpdk/dpdktest"
	"fngw/header"
	"fngw/nat"
	"fngw/sched"
	"fngw/test/harness"
	"fngw/test/pkttest"
)

var (
	gwMAC     = header.MAC{0x02, 0, 0, 0, 0, 1}
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	gwIP      = netip.MustParseAddr("198.18.1.1")
	clientIP  = netip.MustParseAddr("198.18.1.2")
	toGateway = harness.Hosts{SrcMAC: clientMAC, DstMAC: pkttest.MAC(gwMAC), Src: clientIP, Dst: gwIP}
)

// rig is one worker and the control lcore over the dpdktest double: port 0 with
// 198.18.1.1/24, no services.
type rig struct {
	t      *testing.T
	dev    *dpdktest.Dev
	w      *Worker
	c      *Control
	svcs   atomic.Pointer[nat.Services]
	toCtl  *dpdktest.Ring
	fromCt *dpdktest.Ring
	now    int64
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, dev: dpdktest.NewDev(512), toCtl: dpdktest.NewRing(64), fromCt: dpdktest.NewRing(64), now: 1}
	r.c = NewControl(ControlConfig{IO: r.dev, FromWorkers: []Ring{r.toCtl}, ToWorkers: []Ring{r.fromCt}}, dpdk.NewGoBurst)
	st := r.c.Stack()
	if err := st.AddPort(arp.Port{ID: 0, Name: "p0", MAC: gwMAC, MTU: 1500}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAddr(0, netip.MustParsePrefix("198.18.1.1/24"), arp.OwnInterface); err != nil {
		t.Fatal(err)
	}
	lim := nat.Limits{MaxServices: 4, MaxDests: 4, MaxLocalAddrs: 4}
	svcs, err := nat.NewServices(nil, nat.Timeouts{}, lim)
	if err != nil {
		t.Fatal(err)
	}
	r.svcs.Store(svcs)
	core, err := nat.NewCore(nat.Config{Core: 0, NumCores: 1, Sessions: 64, Limits: lim}, sched.NewConns(1, 4), r.now)
	if err != nil {
		t.Fatal(err)
	}
	r.w = NewWorker(WorkerConfig{ID: 0, CPU: -1, Rx: []Queue{{0, 0}}, TxQueue: []uint16{0}, IO: r.dev,
		Services: &r.svcs, Stack: st, NAT: core, RedirectOut: []Ring{nil}, ToControl: r.toCtl, FromControl: r.fromCt}, dpdk.NewGoBurst)
	return r
}

// turn runs one worker turn, one control turn, and one more worker turn (which
// sends what the control lcore queued).
func (r *rig) turn() {
	r.now += 1000
	r.w.Poll(r.now)
	r.c.poll(r.now)
	r.c.stack.Tick(r.now)
	r.c.flush()
	r.w.Poll(r.now)
}

// droppedOnly checks that the worker dropped one packet, under reason
// want, and nothing else, and sent nothing; it returns the worker's counters.
func (r *rig) droppedOnly(want Reason) Stats {
	r.t.Helper()
	s := r.w.Stats()
	for i, v := range s.Drops {
		n := uint64(0)
		if Reason(i) == want {
			n = 1
		}
		if v != n {
			r.t.Errorf("drop %s = %d, want %d", Reason(i), v, n)
		}
	}
	if sent := r.dev.Sent(0); len(sent) != 0 {
		r.t.Errorf("sent %d frames for a dropped packet", len(sent))
	}
	return s
}

func (r *rig) noLeaks() {
	r.t.Helper()
	if n := r.dev.Pool.InUse(); n != 0 {
		r.t.Fatalf("%d mbufs leaked", n)
	}
}

func TestWorkerDropsByReason(t *testing.T) {
	echo := harness.ICMPEchoRequest(toGateway, 1, 1, []byte("ping"))
	other := toGateway
	other.Dst = netip.MustParseAddr("203.0.113.9")
	toOther := other
	toOther.DstMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 9}
	toBcast := toGateway
	toBcast.DstMAC = harness.BroadcastMAC
	cases := []struct {
		name  string
		frame []byte
		want  Reason
	}{
		{"short", echo[:10], ShortFrame},
		{"unknown ethertype", harness.WithEtherType(echo, 0x88b5), UnknownEtherType},
		{"vlan", harness.WithEtherType(echo, header.EtherTypeVLAN), VLANOnUntagged},
		{"other host", harness.ICMPEchoRequest(toOther, 1, 1, nil), OtherHost},
		{"broadcast", harness.ICMPEchoRequest(toBcast, 1, 1, nil), L2Multicast},
		{"truncated ipv4", harness.Truncated(echo, 20), MalformedIPv4},
		{"total length beyond frame", harness.FixIPv4Checksum(harness.WithIPv4TotalLength(echo, 1400)), MalformedIPv4},
		{"bad checksum", harness.CorruptIPv4Checksum(echo), BadIPv4Checksum},
		{"not for us", harness.ICMPEchoRequest(other, 1, 1, nil), NotForUs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.dev.Push(0, 0, 0, tc.frame)
			r.turn()
			s := r.droppedOnly(tc.want)
			if s.Rx != 1 || s.Tx != 0 {
				t.Errorf("rx %d tx %d, want 1 and 0", s.Rx, s.Tx)
			}
			r.noLeaks()
		})
	}
}

func decode(t *testing.T, b []byte) gopacket.Packet {
	t.Helper()
	p := pkttest.Decode(b)
	if p.ErrorLayer() != nil {
		t.Fatalf("undecodable frame: %v", p.ErrorLayer().Error())
	}
	return p
}

func TestARPAndEchoThroughControl(t *testing.T) {
	r := newRig(t)
	r.dev.Push(0, 0, 0, harness.ARPRequest(clientMAC, clientIP, gwIP))
	r.dev.Push(0, 0, 0, harness.ICMPEchoRequest(toGateway, 7, 3, []byte("hello")))
	r.turn()
	sent := r.dev.Sent(0)
	if len(sent) != 2 {
		t.Fatalf("sent %d frames, want an ARP reply and an echo reply", len(sent))
	}
	a, ok := decode(t, sent[0]).Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPReply || net.IP(a.SourceProtAddress).String() != "198.18.1.1" ||
		net.HardwareAddr(a.SourceHwAddress).String() != gwMAC.String() || net.HardwareAddr(a.DstHwAddress).String() != clientMAC.String() {
		t.Fatalf("first frame is not the ARP reply: %v", a)
	}
	p := decode(t, sent[1])
	ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 7 || ic.Seq != 3 || string(ic.Payload) != "hello" {
		t.Fatalf("second frame is not the echo reply: %v", ic)
	}
	if err := harness.VerifyChecksums(sent[1]); err != nil {
		t.Fatal(err)
	}
	ws, cs := r.w.Stats(), r.c.Stats()
	if ws.ToControl != 2 || ws.Injected != 2 || ws.Tx != 2 || cs.ARPReplies != 1 || cs.EchoReplies != 1 {
		t.Fatalf("worker %+v control %+v", ws, cs)
	}
	if n, ok := r.c.Stack().Snapshot().Neigh(0, header.Addr4From(clientIP)); !ok || n.String() != clientMAC.String() {
		t.Fatalf("client not learned from its ARP request: %v %v", n, ok)
	}
	r.noLeaks()
}

func TestTxQueueFullIsCountedAndFreed(t *testing.T) {
	r := newRig(t)
	r.dev.TxLimit = 1
	for i := 0; i < 3; i++ {
		r.dev.Push(0, 0, 0, harness.ICMPEchoRequest(toGateway, 1, uint16(i), nil))
	}
	r.turn()
	if sent := r.dev.Sent(0); len(sent) != 1 {
		t.Fatalf("sent %d, want 1 (tx queue takes one)", len(sent))
	}
	if s := r.w.Stats(); s.Drops[TxQueueFull] != 2 || s.Tx != 1 {
		t.Fatalf("tx %d, tx_queue_full %d; want 1 and 2", s.Tx, s.Drops[TxQueueFull])
	}
	r.noLeaks()
}

func TestControlRingFullIsCountedAndFreed(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 70; i++ { // the ring to the control lcore holds 63
		r.dev.Push(0, 0, 0, harness.ARPRequest(clientMAC, clientIP, gwIP))
	}
	r.now++
	for r.dev.Pending() > 0 {
		r.w.Poll(r.now)
	}
	if s := r.w.Stats(); s.ToControl != 63 || s.Drops[ControlRingFull] != 7 {
		t.Fatalf("to control %d, control_ring_full %d; want 63 and 7", s.ToControl, s.Drops[ControlRingFull])
	}
	for r.toCtl.Count() > 0 || r.fromCt.Count() > 0 {
		r.c.poll(r.now)
		r.c.flush()
		r.w.Poll(r.now)
	}
	r.noLeaks()
}

func TestExecRunsOnWorkerTurn(t *testing.T) {
	r := newRig(t)
	done := make(chan bool)
	go func() { done <- r.w.Exec(func(now int64) bool { return true }, 5e9) }()
	for {
		select {
		case ok := <-done:
			if !ok {
				t.Fatal("Exec reported the worker did not run the job")
			}
			return
		default:
			r.w.Poll(r.now)
		}
	}
}

func TestSinceTurn(t *testing.T) {
	r := newRig(t)
	r.w.cfg.IdlePolls, r.w.cfg.IdleSleep = 1, 100*time.Microsecond
	time.Sleep(20 * time.Millisecond)
	if d := r.w.SinceTurn(); d < 20*time.Millisecond {
		t.Errorf("before the loop ran: SinceTurn %v, want at least the 20ms since NewWorker", d)
	}
	done := make(chan error)
	go func() { done <- r.w.Run() }()
	harness.Eventually(t, 5*time.Second, "the worker turning", func() error {
		if d := r.w.SinceTurn(); d > 10*time.Millisecond {
			return fmt.Errorf("SinceTurn %v while the loop runs (idle, sleeping 100µs a turn)", d)
		}
		return nil
	})
	r.w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if d := r.w.SinceTurn(); d < 30*time.Millisecond {
		t.Errorf("30ms after the loop stopped: SinceTurn %v", d)
	}
}
