package sched

import (
	"net/netip"
	"testing"
	"time"
)

func persistent(timeout time.Duration, mask string) Option {
	p := Persistence{Timeout: timeout}
	if mask != "" {
		p.Netmask = netip.MustParseAddr(mask)
	}
	return WithPersistence(p)
}

// TestPersistSameClient: with rr (which would rotate), every connection from one
// client network goes to the template's destination while the template lives.
func TestPersistSameClient(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1)
	s := mustService(t, RR, 0, ds, c, 1, persistent(300*time.Second, "255.255.255.0"))
	first, h := connect(s, 0, client(0x0101, 1000), sec)
	if first < 0 || h < 0 {
		t.Fatalf("PickPersistent = %d, %d", first, h)
	}
	for p := range 20 {
		k := client(0x0100+p, uint16(2000+p)) // 198.18.1.x: the same /24
		if i, h2 := connect(s, 0, k, sec); i != first || h2 != h {
			t.Fatalf("connection %d from the same /24: %d (template %d), want %d (%d)", p, i, h2, first, h)
		}
	}
	// Another /24 gets its own template, and rr moves on.
	if i, h2 := connect(s, 0, client(0x0201, 1), sec); i == first || h2 == h || h2 < 0 {
		t.Fatalf("another network: %d, template %d", i, h2)
	}
	if n := s.Templates(0); n != 2 {
		t.Errorf("Templates = %d, want 2", n)
	}
	if p := c.Persist(ds[first].ID); p != 1 {
		t.Errorf("Persist(%d) = %d, want 1", ds[first].ID, p)
	}
	// Another virtual port is another template (LVS templates are per service port).
	k := client(0x0101, 1000)
	k.DPort = 443
	if _, h2 := connect(s, 0, k, sec); h2 == h {
		t.Error("another virtual port shared the template")
	}
}

// TestPersistLifetime: a template lives while connections hold it, then for the
// timeout after the last one ends, and not longer.
func TestPersistLifetime(t *testing.T) {
	const timeout = 300 * sec
	c := NewConns(1, 64)
	ds := dests(1, 1, 1, 1)
	// A small table, so that each Expire below sweeps all of it.
	s := mustService(t, RR, 0, ds, c, 1, persistent(time.Duration(timeout), ""), WithTemplateCapacity(8))
	k := client(5, 1)
	d, h1 := connect(s, 0, k, 0)
	_, h2 := connect(s, 0, k, 10*sec)
	// Long past the timeout, but a connection still holds the template.
	s.Release(0, h1, 20*sec)
	if n := s.Expire(0, 1000*sec, 100); n != 0 {
		t.Fatalf("Expire removed %d templates still held", n)
	}
	if i, _ := connect(s, 0, k, 1000*sec); i != d {
		t.Fatalf("held template not used: %d, want %d", i, d)
	}
	s.Release(0, h2, 1000*sec)
	s.Release(0, h2, 1001*sec) // the third connection's release
	// Timeout counts from the last release (1001 s).
	if i, _ := connect(s, 0, k, 1001*sec+timeout-1); i != d {
		t.Fatalf("within the timeout: %d, want %d", i, d)
	}
	s.Release(0, h2, 1100*sec) // and release that one: now idle from 1100 s
	if n := s.Expire(0, 1100*sec+timeout-1, 100); n != 0 || s.Templates(0) != 1 {
		t.Fatalf("expired %d before the timeout", n)
	}
	if n := s.Expire(0, 1100*sec+timeout, 100); n != 1 || s.Templates(0) != 0 {
		t.Fatalf("expired %d at the timeout, %d left", n, s.Templates(0))
	}
	if p := c.Persist(ds[d].ID); p != 0 {
		t.Fatalf("Persist = %d after expiry", p)
	}
	// A new connection is scheduled afresh: rr has moved on.
	if i, h := connect(s, 0, k, 2000*sec); i == d || h < 0 {
		t.Fatalf("after expiry: %d (template %d), want a fresh pick", i, h)
	}
}

// TestPersistExpiredBeforeSweep: an expired template is not used even if Expire
// has not removed it yet.
func TestPersistExpiredBeforeSweep(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1)
	s := mustService(t, RR, 0, ds, c, 1, persistent(10*time.Second, ""))
	k := client(1, 1)
	d, h := connect(s, 0, k, 0)
	s.Release(0, h, sec)
	i, h2 := connect(s, 0, k, 11*sec)
	if i == d || h2 != h {
		t.Fatalf("expired template: %d (handle %d), want the other destination in the same slot %d", i, h2, h)
	}
	if c.Persist(ds[d].ID) != 0 || c.Persist(ds[i].ID) != 1 {
		t.Fatalf("Persist %d, %d", c.Persist(ds[d].ID), c.Persist(ds[i].ID))
	}
}

// TestPersistDestChanges follows LVS: a quiescent destination keeps its persistent
// clients (unless ExpireQuiescent), one removed from the service does not.
func TestPersistDestChanges(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1)
	p := Persistence{Timeout: time.Minute}
	s := mustService(t, RR, 0, ds, c, 1, WithPersistence(p))
	k := client(1, 1)
	d, h := connect(s, 0, k, 0)

	q := append([]DestConf(nil), ds...)
	q[d].Weight = 0
	s2 := mustService(t, RR, 0, q, c, 1, WithPersistence(p), WithPrevious(s))
	if i, h2 := connect(s2, 0, k, sec); i != d || h2 != h {
		t.Fatalf("quiesced destination: %d, want %d kept", i, d)
	}
	if i := s2.Pick(0, client(99, 1)); i == d {
		t.Fatal("quiesced destination picked for a new client")
	}
	p.ExpireQuiescent = true
	s3 := mustService(t, RR, 0, q, c, 1, WithPersistence(p), WithPrevious(s2))
	i, h3 := connect(s3, 0, k, 2*sec)
	if i == d || i < 0 || h3 != h {
		t.Fatalf("ExpireQuiescent: %d, want another destination in the same template", i)
	}
	// Remove the template's new destination from the service altogether.
	var rest []DestConf
	for j := range ds {
		if j != i {
			rest = append(rest, ds[j])
		}
	}
	s4 := mustService(t, RR, 0, rest, c, 1, WithPersistence(p), WithPrevious(s3))
	j, _ := connect(s4, 0, k, 3*sec)
	if j < 0 || s4.DestID(j) == ds[i].ID {
		t.Fatalf("removed destination: picked %d", j)
	}
	// Four connections hold the template; all are released through the newest
	// snapshot, which shares the table.
	for range 4 {
		s4.Release(0, h, 4*sec)
	}
	if n := s4.Expire(0, 4*sec+int64(time.Minute), 1000); n != 1 {
		t.Fatalf("expired %d", n)
	}
	for _, d := range ds {
		if c.Persist(d.ID) != 0 {
			t.Fatalf("Persist(%d) = %d after expiry", d.ID, c.Persist(d.ID))
		}
	}
}

// TestPersistFull: a full table still schedules, without a template.
func TestPersistFull(t *testing.T) {
	c := NewConns(2, 64)
	s := mustService(t, WLC, 0, dests(1, 1), c, 2, persistent(time.Minute, ""), WithTemplateCapacity(3))
	for n := range 3 {
		if _, h := connect(s, 1, client(n, 1), 0); h < 0 {
			t.Fatalf("template %d refused", n)
		}
	}
	i, h := connect(s, 1, client(3, 1), 0)
	if i < 0 || h != -1 {
		t.Fatalf("full table: %d, %d", i, h)
	}
	// Core 0 has its own table.
	if _, h := connect(s, 0, client(3, 1), 0); h < 0 {
		t.Fatal("core 0 refused a template")
	}
	// An expired template frees room even before a sweep.
	_, h0 := connect(s, 1, client(0, 1), 0)
	s.Release(0+1, h0, 0)
	s.Release(1, h0, 0)
	if _, h := connect(s, 1, client(4, 1), int64(time.Minute)); h < 0 {
		t.Fatal("an expired template was not reclaimed")
	}
}

// TestPersistSeeded: the template and locality tables hash with the Service's
// seed, so keys chosen to share a chain under one seed spread under another.
func TestPersistSeeded(t *testing.T) {
	const capacity = 4096
	mask := uint64(capacity - 1)
	known := coreSeed(1, 0) // what an attacker who knows seed 1 computes
	var keys []Key
	var target tmplKey
	svc := mustService(t, RR, 0, dests(1), NewConns(1, 64), 1, persistent(time.Minute, ""))
	for n := 0; len(keys) < 1000 && n < 1<<24; n++ {
		k := client(n&0xffff, 1)
		k.Src = netip.AddrFrom4([4]byte{byte(100 + n>>16), 64, byte(n >> 8), byte(n)})
		tk := svc.templateKey(k)
		if len(keys) == 0 {
			target = tk
		}
		if tk.hash(known)&mask == target.hash(known)&mask {
			keys = append(keys, k)
		}
	}
	for _, tc := range []struct {
		seed     uint64
		min, max int
	}{{1, 1000, 1000}, {0x5eed, 1, 8}} {
		c := NewConns(1, 64)
		s := mustService(t, RR, 0, dests(1), c, 1, persistent(time.Minute, ""), WithTemplateCapacity(capacity), WithSeed(tc.seed))
		for _, k := range keys {
			if _, h := connect(s, 0, k, 0); h < 0 {
				t.Fatal("table full")
			}
		}
		tb := &s.tmpl[0]
		longest := 0
		for b := range tb.idx.head {
			n := 0
			for e := tb.idx.head[b]; e >= 0; e = tb.idx.link(e) {
				n++
			}
			longest = max(longest, n)
		}
		t.Logf("seed %#x: %d chosen clients, longest chain %d", tc.seed, len(keys), longest)
		if longest < tc.min || longest > tc.max {
			t.Fatalf("seed %#x: longest chain %d, want %d..%d", tc.seed, longest, tc.min, tc.max)
		}
	}
	a := mustService(t, LBLC, 0, dests(1), NewConns(1, 64), 1, persistent(time.Minute, ""), WithSeed(0))
	b := mustService(t, LBLC, 0, dests(1), NewConns(1, 64), 1, persistent(time.Minute, ""), WithSeed(0))
	if a.tmpl[0].seed == b.tmpl[0].seed || a.loc[0].seed == b.loc[0].seed {
		t.Fatal("two services drew the same seed")
	}
}

// TestPersistSpoofedSYNs: SYNs from spoofed sources, whose handshakes never
// complete, take no template: a flood of ten times the table leaves every real
// client its template and destination, and a client arriving during the flood
// gets one when its handshake completes.
func TestPersistSpoofedSYNs(t *testing.T) {
	const capacity = 64
	c := NewConns(1, 64)
	ds := dests(1, 1, 1, 1)
	s := mustService(t, RR, 0, ds, c, 1, persistent(time.Hour, ""), WithTemplateCapacity(capacity))
	type conn struct {
		k    Key
		dest int
		h    int32
	}
	var real []conn
	for n := range capacity / 2 { // real clients: half the table
		k := client(n, 1000)
		i, h := connect(s, 0, k, sec)
		if h < 0 {
			t.Fatalf("client %d: no template", n)
		}
		real = append(real, conn{k, i, h})
	}
	flood := func(from, n int, now int64) {
		for j := from; j < from+n; j++ {
			k := client(0x4000+j, uint16(j))
			i, h := s.PickPersistent(0, k, now)
			if i < 0 || h != TemplateAtHandshake {
				t.Fatalf("spoofed SYN %d: destination %d, template %d", j, i, h)
			}
			s.Release(0, h, now) // its session times out in SYN_RECV
		}
	}
	flood(0, 10*capacity, 2*sec)
	if n := s.Templates(0); n != capacity/2 {
		t.Fatalf("%d templates after the flood, want the %d real clients'", n, capacity/2)
	}
	late := conn{k: client(0x3000, 1)}
	var h int32
	late.dest, h = s.PickPersistent(0, late.k, 3*sec)
	if late.dest < 0 || h != TemplateAtHandshake {
		t.Fatalf("new client during the flood: %d, %d", late.dest, h)
	}
	flood(10*capacity, 10*capacity, 3*sec)
	if late.h = s.Bind(0, late.k, ds[late.dest].ID, 3*sec); late.h < 0 {
		t.Fatal("a new client's completed handshake got no template during the flood")
	}
	real = append(real, late)
	flood(20*capacity, 10*capacity, 4*sec)
	for _, r := range real {
		if i, h := connect(s, 0, r.k, 5*sec); i != r.dest || h != r.h {
			t.Fatalf("client %v: destination %d template %d, want %d %d", r.k.Src, i, h, r.dest, r.h)
		}
	}
	var persist int32
	for _, d := range ds {
		persist += c.Persist(d.ID)
	}
	if persist != capacity/2+1 {
		t.Fatalf("PersistConn sums to %d, want %d", persist, capacity/2+1)
	}
}

// TestPersistHandshakes: until a client's first connection completes its
// handshake, its other connections go where the first went; the first to
// complete binds the template, the others join it.
func TestPersistHandshakes(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1)
	s := mustService(t, RR, 0, ds, c, 1, persistent(time.Minute, "255.255.255.0"))
	var ks []Key
	first := -1
	for p := range 4 { // four SYNs from one /24 before any handshake completes
		k := client(0x0100+p, uint16(5000+p))
		i, h := s.PickPersistent(0, k, sec)
		if h != TemplateAtHandshake || (first >= 0 && i != first) {
			t.Fatalf("SYN %d: destination %d template %d, want %d pending", p, i, h, first)
		}
		first = i
		ks = append(ks, k)
	}
	if s.Templates(0) != 0 {
		t.Fatal("a template before any handshake completed")
	}
	var hs []int32
	for _, k := range ks {
		hs = append(hs, s.Bind(0, k, ds[first].ID, 2*sec))
	}
	if hs[0] < 0 || hs[1] != hs[0] || hs[3] != hs[0] || s.Templates(0) != 1 || templateConns(s, netip.MustParseAddr("198.18.1.0")) != 4 {
		t.Fatalf("handles %v, %d templates", hs, s.Templates(0))
	}
	for _, h := range hs {
		s.Release(0, h, 3*sec)
	}
	// A handshake that completes after its destination left the service
	// binds nothing.
	i, h := s.PickPersistent(0, client(0x0900, 1), 4*sec)
	if h != TemplateAtHandshake {
		t.Fatalf("template %d", h)
	}
	s2 := mustService(t, RR, 0, append(append([]DestConf(nil), ds[:i]...), ds[i+1:]...), c, 1, persistent(time.Minute, "255.255.255.0"), WithPrevious(s))
	if h := s2.Bind(0, client(0x0900, 1), ds[i].ID, 5*sec); h != -1 {
		t.Fatalf("bound a template to a destination that left: %d", h)
	}
	// Release and Bind of a non-persistent service ignore the marker.
	np := mustService(t, RR, 0, ds, c, 1)
	np.Release(0, TemplateAtHandshake, 0)
	if h := np.Bind(0, client(1, 1), ds[0].ID, 0); h != -1 {
		t.Fatalf("non-persistent Bind: %d", h)
	}
}

// templateConns returns the connections holding the template whose masked
// client is src, -1 if there is none.
func templateConns(s *Service, src netip.Addr) int32 {
	for _, tp := range templatesOf(s, 0, 0) {
		if tp.Client == src {
			return tp.Conns
		}
	}
	return -1
}

// TestReleaseForeignHandle: handles of other tables, stale or invalid ones are
// ignored rather than corrupting a live template.
func TestReleaseForeignHandle(t *testing.T) {
	c := NewConns(1, 64)
	a := mustService(t, RR, 0, dests(1, 1), c, 1, persistent(time.Minute, ""))
	b := mustService(t, RR, 0, dests(1, 1), c, 1, persistent(time.Minute, "")) // no WithPrevious: a new table
	_, ha := connect(a, 0, client(1, 1), 0)
	_, hb := connect(b, 0, client(1, 1), 0)
	if ha>>handleBits == hb>>handleBits {
		t.Fatalf("tables share generation: %d %d", ha, hb)
	}
	b.Release(0, ha, 0)
	b.Release(0, -1, 0)
	b.Release(0, hb+1, 0)
	b.Release(0, hb|(maxTemplate-1), 0)
	if got := templatesOf(b, 0, 0); len(got) != 1 || got[0].Conns != 1 {
		t.Fatalf("templates after foreign releases: %+v", got)
	}
	noPersist := mustService(t, RR, 0, dests(1), c, 1)
	noPersist.Release(0, hb, 0) // no table: ignored
	if i, h := connect(noPersist, 0, client(1, 1), 0); i != 0 || h != -1 {
		t.Fatalf("non-persistent service: %d, %d", i, h)
	}
	if noPersist.Templates(0) != 0 || len(templatesOf(noPersist, 0, 0)) != 0 {
		t.Fatal("non-persistent service reports templates")
	}
}

func TestCopyTemplates(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1)
	s := mustService(t, RR, 0, ds, c, 1, persistent(time.Minute, "255.255.0.0"))
	k := client(0x0203, 4000)
	k6 := Key{Proto: protoUDP, Src: netip.MustParseAddr("2001:db8::77"), Dst: netip.MustParseAddr("2001:db8:1::1"), SPort: 9, DPort: 53}
	_, h := connect(s, 0, k, 0)
	connect(s, 0, k6, 0)
	s.Release(0, h, 5*sec)
	got := templatesOf(s, 0, 15*sec)
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	byProto := map[uint8]Template{got[0].Proto: got[0], got[1].Proto: got[1]}
	want4 := Template{Proto: protoTCP, Client: netip.MustParseAddr("198.18.0.0"), VIP: k.Dst, VPort: 80, DestID: ds[0].ID, Conns: 0, Expires: 50 * time.Second}
	want6 := Template{Proto: protoUDP, Client: k6.Src, VIP: k6.Dst, VPort: 53, DestID: ds[0].ID, Conns: 1}
	if byProto[protoTCP] != want4 || byProto[protoUDP] != want6 {
		t.Fatalf("got %+v\nwant %+v\n     %+v", got, want4, want6)
	}
	if got := templatesOf(s, 0, 65*sec); len(got) != 1 || got[0].Proto != protoUDP {
		t.Fatalf("expired template listed: %+v", got)
	}
}

// templatesOf lists core's live templates of s, copying three entries'
// worth at a time (as a listing does over several turns).
func templatesOf(s *Service, core int, now int64) []Template {
	var out []Template
	buf := make([]Template, 2)
	for from := 0; from < s.TemplateSlots(); {
		n, next := s.CopyTemplates(core, buf, from, 3, now)
		out, from = append(out, buf[:n]...), next
	}
	return out
}

// TestPersistNetmask6: an IPv6 mask groups IPv6 clients and leaves IPv4 ones whole.
func TestPersistNetmask6(t *testing.T) {
	c := NewConns(1, 64)
	s := mustService(t, RR, 0, dests(1, 1, 1), c, 1, persistent(time.Minute, "ffff:ffff:ffff:ffff::"))
	k := Key{Proto: protoTCP, Src: netip.MustParseAddr("2001:db8:0:1::1"), Dst: netip.MustParseAddr("2001:db8::1"), DPort: 80}
	d, _ := connect(s, 0, k, 0)
	k.Src = netip.MustParseAddr("2001:db8:0:1:ffff::9")
	if i, _ := connect(s, 0, k, 0); i != d {
		t.Fatalf("same /64: %d, want %d", i, d)
	}
	a, _ := connect(s, 0, client(1, 1), 0)
	b, _ := connect(s, 0, client(2, 1), 0)
	if a == b {
		t.Fatal("IPv4 clients grouped by an IPv6 mask")
	}
}

// TestPersistThresholdBind: a template pick counts toward the threshold like any
// other (LVS binds every connection), but the template's destination is used even
// when overloaded.
func TestPersistThresholdBind(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1)
	ds[0].UThresh = 2
	s := mustService(t, RR, 0, ds, c, 1, persistent(time.Minute, ""))
	k := client(1, 1)
	d, _ := connect(s, 0, k, 0)
	if d != 0 {
		t.Fatalf("first pick %d", d)
	}
	c.Add(0, ds[0].ID, 1, 0)
	connect(s, 0, k, 0) // the second connection reaches UThresh
	c.Add(0, ds[0].ID, 1, 0)
	if !c.Overloaded(ds[0].ID) {
		t.Fatal("not flagged at the threshold")
	}
	if i, _ := connect(s, 0, k, 0); i != 0 {
		t.Fatalf("template destination not used when overloaded: %d", i)
	}
	if i := s.Pick(0, client(2, 1)); i != 1 {
		t.Fatalf("new client: %d, want 1", i)
	}
}

// TestExpireBudget: Expire examines at most budget entries per call and sweeps the
// whole table in capacity/budget calls.
func TestExpireBudget(t *testing.T) {
	c := NewConns(1, 64)
	s := mustService(t, WLC, 0, dests(1, 1), c, 1, persistent(time.Second, ""), WithTemplateCapacity(100))
	for n := range 50 {
		_, h := connect(s, 0, client(n, 1), 0)
		s.Release(0, h, 0)
	}
	total := 0
	for range 10 {
		n := s.Expire(0, 2*sec, 10)
		if n > 10 {
			t.Fatalf("Expire removed %d with budget 10", n)
		}
		total += n
	}
	if total != 50 || s.Templates(0) != 0 {
		t.Fatalf("removed %d, %d left", total, s.Templates(0))
	}
}

// TestPersistThresholdSettle: connections of a template hit count toward the
// threshold like others, and a dip below the lower mark between picks is seen even
// when the next connection is a template hit (LVS clears the flag at unbind).
func TestPersistThresholdSettle(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1)
	ds[0].UThresh, ds[0].LThresh = 4, 2
	s := mustService(t, FO, 0, ds, c, 1, persistent(time.Minute, ""))
	k := client(1, 1)
	for range 4 { // four connections of one client: the fourth reaches UThresh
		if i, _ := connect(s, 0, k, 0); i != 0 {
			t.Fatalf("pick %d", i)
		}
		c.Add(0, ds[0].ID, 1, 0)
	}
	if i := s.Pick(0, client(2, 1)); i != 1 {
		t.Fatalf("another client at the threshold: %d, want 1", i)
	}
	c.Add(0, ds[0].ID, -3, 0) // 1 left: below LThresh 2
	connect(s, 0, k, 0)       // a template hit: 2 with it, under UThresh
	c.Add(0, ds[0].ID, 1, 0)
	if c.Overloaded(ds[0].ID) {
		t.Fatal("the dip below LThresh was missed")
	}
	if i := s.Pick(0, client(2, 1)); i != 0 {
		t.Fatalf("another client after the dip: %d, want 0", i)
	}
}

// TestPersistMark: a fwmark service's templates key on the mark (LVS
// <IPPROTO_IP, client, 0, fwmark, 0>): one client's connections to other
// addresses, ports and protocols of the mark share one template, listed
// with protocol 0 and the mark as its address.
func TestPersistMark(t *testing.T) {
	c := NewConns(1, 64)
	s := mustService(t, RR, 0, dests(1, 1, 1), c, 1, persistent(time.Minute, ""))
	k := client(7, 1000)
	k.Mark = 9
	first, h := connect(s, 0, k, sec)
	for n, v := range []struct {
		proto uint8
		dst   string
		port  uint16
	}{{protoTCP, "192.0.2.2", 443}, {protoUDP, "192.0.2.9", 53}, {protoTCP, "192.0.2.1", 22}} {
		k2 := client(7, uint16(2000+n))
		k2.Proto, k2.Dst, k2.DPort, k2.Mark = v.proto, netip.MustParseAddr(v.dst), v.port, 9
		if i, h2 := connect(s, 0, k2, sec); i != first || h2 != h {
			t.Errorf("%v: destination %d template %d, want %d %d", v, i, h2, first, h)
		}
	}
	got := templatesOf(s, 0, sec)
	if len(got) != 1 || got[0].Proto != 0 || got[0].VIP != netip.MustParseAddr("0.0.0.9") || got[0].VPort != 0 || got[0].Conns != 4 {
		t.Errorf("templates %+v, want one: protocol 0, 0.0.0.9:0, 4 connections", got)
	}
}
