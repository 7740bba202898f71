package nat

import (
	"bytes"
	"testing"

	"fngw/frag"
	"fngw/header"
)

// fragmentIPv4 splits an IPv4 packet (no Ethernet header) into fragments of
// at most mtu bytes, as a sending host does (RFC 791 §3.2): the header is
// copied into each, offsets in 8-byte units, MF on all but the last, header
// checksums recomputed.
func fragmentIPv4(t testing.TB, pkt []byte, mtu int) [][]byte {
	t.Helper()
	ip := header.IPv4(pkt)
	hl := ip.HeaderLength()
	payload := ip.Payload()
	step := (mtu - hl) &^ 7
	var out [][]byte
	for off := 0; off < len(payload); off += step {
		end := min(off+step, len(payload))
		b := append(append([]byte(nil), pkt[:hl]...), payload[off:end]...)
		f := header.IPv4(b)
		f.SetTotalLength(uint16(len(b)))
		flags := uint8(0)
		if end < len(payload) {
			flags = header.IPv4FlagMF
		}
		f.SetFlagsFragmentOffset(flags, uint16(off))
		f.SetChecksum(f.CalculateChecksum())
		out = append(out, b)
	}
	return out
}

// reassemble joins fragments (IPv4 packets, in order) into the datagram,
// checking that they agree on everything but the offsets and lengths.
func reassemble(t testing.TB, frags [][]byte) []byte {
	t.Helper()
	first := header.IPv4(frags[0])
	var payload []byte
	for i, b := range frags {
		f := header.IPv4(b)
		if !f.IsChecksumValid() {
			t.Fatalf("fragment %d: IPv4 checksum does not verify", i)
		}
		if f.SourceAddress() != first.SourceAddress() || f.DestinationAddress() != first.DestinationAddress() ||
			f.ID() != first.ID() || f.TTL() != first.TTL() || f.Protocol() != first.Protocol() {
			t.Fatalf("fragment %d disagrees with the first: %v>%v id %d ttl %d", i, f.SourceAddress(), f.DestinationAddress(), f.ID(), f.TTL())
		}
		if int(f.FragmentOffset()) != len(payload) || f.MF() != (i < len(frags)-1) {
			t.Fatalf("fragment %d: offset %d MF %v, want %d %v", i, f.FragmentOffset(), f.MF(), len(payload), i < len(frags)-1)
		}
		payload = append(payload, f.Payload()...)
	}
	hl := first.HeaderLength()
	d := append(append([]byte(nil), frags[0][:hl]...), payload...)
	ip := header.IPv4(d)
	ip.SetTotalLength(uint16(len(d)))
	ip.SetFlagsFragmentOffset(0, 0)
	ip.SetChecksum(ip.CalculateChecksum())
	return d
}

// bigUDP is a UDP datagram of n payload bytes from the client to VIP:9000.
func bigUDP(t testing.TB, sport uint16, n int, id uint16) pkt {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i*31 + 7)
	}
	return pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: id, proto: header.IPProtoUDP,
		sport: sport, dport: 9000, payload: payload, noDF: true}
}

// sendFragments runs the fragments of p's datagram through core c and
// returns the IPv4 packets sent, failing unless each was sent on port.
func (e *env) sendFragments(c int, frags [][]byte, srcMAC, dstMAC header.MAC, port uint16) [][]byte {
	e.t.Helper()
	var out [][]byte
	for i, fr := range frags {
		r, b := e.run(c, withEthernet(srcMAC, dstMAC, fr))
		if r.Act != ActTx || r.Port != port {
			e.t.Fatalf("fragment %d: verdict %+v (%v), want tx on port %d", i, r, r.Reason, port)
		}
		ip := header.IPv4(b[header.EthernetLen:])
		out = append(out, append([]byte(nil), ip[:ip.TotalLength()]...))
	}
	return out
}

// TestFragmentsFullNAT: a 4000-byte UDP datagram in three fragments goes to
// the real server as three fragments with the first's rewrite (LIP ->
// RIP:9001, TTL 63), which reassemble into the datagram the unfragmented
// path would have sent, UDP checksum included; the answer, fragmented by
// the real server, comes back to the client from VIP:9000 the same way.
func TestFragmentsFullNAT(t *testing.T) {
	e := newEnv(t, envOpts{})
	in := bigUDP(t, 5000, 4000, 77)
	out := e.sendFragments(0, fragmentIPv4(t, in.l3(t), 1500), routerMAC, gwMAC0, 1)
	if len(out) != 3 {
		t.Fatalf("%d fragments out", len(out))
	}
	s := e.session(0, header.IPProtoUDP, 5000, 9000)
	got := reassemble(t, out)
	want := in
	want.src, want.dst, want.sport, want.dport, want.ttl = s.Reply.Dst, s.Reply.Src, s.Reply.DPort, s.Reply.SPort, 63
	if !bytes.Equal(got, want.l3(t)) {
		t.Fatalf("reassembled datagram differs from the unfragmented rewrite")
	}
	if u := header.UDP(header.IPv4(got).Payload()); !u.IsChecksumValid(s.Reply.Dst, s.Reply.Src) {
		t.Fatal("reassembled UDP checksum does not verify")
	}
	if st := e.destStats(0, s.DestID); st.InPkts != 3 {
		t.Fatalf("destination counted %d packets in, want 3", st.InPkts)
	}

	// The real server's answer, fragmented at 1400.
	ans := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64, id: 900, proto: header.IPProtoUDP,
		sport: s.Reply.SPort, dport: s.Reply.DPort, payload: in.payload[:3000], noDF: true}
	back := e.sendFragments(0, fragmentIPv4(t, ans.l3(t), 1400), rsMAC1, gwMAC1, 0)
	wantBack := ans
	wantBack.src, wantBack.dst, wantBack.sport, wantBack.dport, wantBack.ttl = vip, cip, 9000, 5000, 63
	if !bytes.Equal(reassemble(t, back), wantBack.l3(t)) {
		t.Fatal("the answer reassembled differs from the unfragmented rewrite")
	}
}

// TestFragmentsOtherModes: NAT rewrites the destination of every fragment;
// DR forwards them unchanged to the real server's MAC.
func TestFragmentsOtherModes(t *testing.T) {
	for _, mode := range []Mode{ModeNAT, ModeDR} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, envOpts{mode: mode})
			in := bigUDP(t, 5001, 3000, 78)
			in.dport = 9000
			out := e.sendFragments(0, fragmentIPv4(t, in.l3(t), 1500), routerMAC, gwMAC0, 1)
			s := e.session(0, header.IPProtoUDP, 5001, 9000)
			want := in
			if mode == ModeNAT {
				want.dst, want.dport, want.ttl = s.Reply.Src, s.Reply.SPort, 63
			}
			if !bytes.Equal(reassemble(t, out), want.l3(t)) {
				t.Fatal("reassembled datagram differs from the unfragmented one")
			}
		})
	}
}

// TestFragmentsWithoutFirst: a later fragment whose first was not seen, or
// came longer ago than the timeout, is dropped (frag_no_first) when it is
// addressed to a VIP; to another address it is not the datapath's.
func TestFragmentsWithoutFirst(t *testing.T) {
	e := newEnv(t, envOpts{})
	in := bigUDP(t, 5002, 3000, 79)
	frags := fragmentIPv4(t, in.l3(t), 1500)
	e.expectDrop(0, withEthernet(routerMAC, gwMAC0, frags[1]), ReasonFragNoFirst)
	e.sendFragments(0, frags[:1], routerMAC, gwMAC0, 1)
	e.sendFragments(0, frags[1:2], routerMAC, gwMAC0, 1)
	e.now += int64(frag.DefaultTimeout)
	e.expectDrop(0, withEthernet(routerMAC, gwMAC0, frags[2]), ReasonFragNoFirst)

	elsewhere := in
	elsewhere.dst = header.Addr4{192, 0, 2, 1}
	if r, _ := e.run(0, withEthernet(routerMAC, gwMAC0, fragmentIPv4(t, elsewhere.l3(t), 1500)[1])); r.Act != ActNotMine {
		t.Fatalf("later fragment to another address: %v/%v, want not_mine", r.Act, r.Reason)
	}
}

// TestFragmentTCPOffset8: a TCP fragment at offset 8 could rewrite the first
// fragment's TCP header (RFC 1858): dropped as fragment.
func TestFragmentTCPOffset8(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := fromClient(40000, fACK, 1, 1, "0123456789abcdef").frame(t)
	ip := header.IPv4(b[header.EthernetLen:])
	ip.SetFlagsFragmentOffset(header.IPv4FlagMF, 8)
	ip.SetChecksum(ip.CalculateChecksum())
	e.expectDrop(0, b, ReasonFragment)
}

// TestFragmentTableFull: with room for four datagrams, a fifth first
// fragment is dropped (frag_table_full) without creating anything that would
// forward its other fragments; the four tracked ones still go through.
func TestFragmentTableFull(t *testing.T) {
	e := newEnv(t, envOpts{})
	var err error
	if e.cores[0].frags, err = frag.New(frag.Config{Capacity: 4}); err != nil {
		t.Fatal(err)
	}
	var all [][][]byte
	for i := range 5 {
		frags := fragmentIPv4(t, bigUDP(t, uint16(6000+i), 2000, uint16(100+i)).l3(t), 1500)
		all = append(all, frags)
		r, _ := e.run(0, withEthernet(routerMAC, gwMAC0, frags[0]))
		if i < 4 && r.Act != ActTx {
			t.Fatalf("first fragment %d: %v/%v", i, r.Act, r.Reason)
		}
		if i == 4 && (r.Act != ActDrop || r.Reason != ReasonFragTableFull) {
			t.Fatalf("fifth first fragment: %v/%v, want drop frag_table_full", r.Act, r.Reason)
		}
	}
	if n := e.cores[0].tab.Len(); n != 4 {
		t.Fatalf("%d sessions: the refused datagram created one", n)
	}
	e.expectDrop(0, withEthernet(routerMAC, gwMAC0, all[4][1]), ReasonFragNoFirst)
	for i := range 4 {
		e.sendFragments(0, all[i][1:], routerMAC, gwMAC0, 1)
	}
}

// TestFragmentsFollowTheOwner: with two cores, the fragments of a real
// server's answer to a local port owned by core 0 that reach core 1 (RSS
// hashes fragments by addresses) are all redirected to core 0, which
// forwards them.
func TestFragmentsFollowTheOwner(t *testing.T) {
	e := newEnv(t, envOpts{ncores: 2})
	in := bigUDP(t, 5003, 100, 80)
	e.sendFragments(0, [][]byte{in.l3(t)}, routerMAC, gwMAC0, 1) // unfragmented: the session lands on core 0
	s := e.session(0, header.IPProtoUDP, 5003, 9000)
	if OwnerCore(s.Reply.DPort, 2) != 0 {
		t.Fatalf("local port %d not owned by core 0", s.Reply.DPort)
	}
	ans := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64, id: 901, proto: header.IPProtoUDP,
		sport: s.Reply.SPort, dport: s.Reply.DPort, payload: make([]byte, 2500), noDF: true}
	frags := fragmentIPv4(t, ans.l3(t), 1500)
	for i, fr := range frags {
		r, _ := e.run(1, withEthernet(rsMAC1, gwMAC1, fr))
		if r.Act != ActRedirect || r.Core() != 0 {
			t.Fatalf("fragment %d on core 1: %+v, want redirect to core 0", i, r)
		}
	}
	e.sendFragments(0, frags, rsMAC1, gwMAC1, 0)
}

// TestFragmentAllocs: forwarding first and later fragments allocates
// nothing.
func TestFragmentAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	e := newEnv(t, envOpts{})
	frags := fragmentIPv4(t, bigUDP(t, 5004, 3000, 81).l3(t), 1500)
	first := newBenchFrame(withEthernet(routerMAC, gwMAC0, frags[0]))
	later := newBenchFrame(withEthernet(routerMAC, gwMAC0, frags[1]))
	assertCoreNoAllocs(t, e, 0, first, ActTx)
	assertCoreNoAllocs(t, e, 0, later, ActTx)
}

// FuzzLaterFragment: after the first fragment of a tracked datagram, an
// arbitrary frame (often a mutated later fragment of it) must never panic,
// write outside its buffer or get an unknown verdict.
func FuzzLaterFragment(f *testing.F) {
	in := bigUDP(f, 5005, 3000, 82)
	frags := fragmentIPv4(f, in.l3(f), 1500)
	for _, fr := range frags[1:] {
		f.Add(withEthernet(routerMAC, gwMAC0, fr))
	}
	reply := fragmentIPv4(f, pkt{src: rip1, dst: laddr1, ttl: 64, id: 5, proto: header.IPProtoUDP, sport: 9001, dport: 1024,
		payload: make([]byte, 2000), noDF: true}.l3(f), 1500)
	f.Add(withEthernet(rsMAC1, gwMAC1, reply[1]))
	first := withEthernet(routerMAC, gwMAC0, frags[0])
	e := newEnv(f, envOpts{}) // one gateway for the whole run: state carries over, as in production
	e.mayMove = true
	f.Fuzz(func(t *testing.T, frame []byte) {
		e.t = t
		if r, _ := e.run(0, first); r.Act != ActTx {
			t.Fatalf("first fragment: %+v", r)
		}
		r, _ := e.run(0, frame) // run checks the buffer's canaries
		if r.Act >= NumActions || r.Reason >= NumDropReasons {
			t.Fatalf("verdict %+v", r)
		}
	})
}
