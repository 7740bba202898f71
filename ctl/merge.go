package ctl

import (
	"fmt"
	"slices"
	"strings"
)

// Change is one change a reload makes to the running configuration, as its
// report prints it: "+ service tcp 198.18.1.100:80 wlc", "- dest ...",
// "~ dest 198.18.2.11:80 of tcp 198.18.1.100:80: weight 1→3".
type Change struct {
	Kind byte // '+' added, '-' deleted, '~' changed
	Text string
}

func (c Change) String() string { return string(c.Kind) + " " + c.Text }

// Merge applies to running the changes made to a configuration file since
// it was last applied — from base (the file as last applied) to file (the
// file now) — and returns the result and what it changed. running itself is
// not modified.
//
// What the file did not change is left as it is in running, whatever the
// file says about it: objects created, changed or deleted at runtime
// (ipvsadm, gw ip, -R) stay so. What the file changed takes the file's
// state, even where runtime changed the same object too (the file was
// edited after, and the reload is the operator asking for it): an object
// added to or changed in the file is added, or replaced by the file's; an
// object deleted from the file is deleted. A service the file changed (its
// attributes, destinations or local addresses) that was deleted at runtime
// comes back as the file has it. Objects are matched by identity: services
// by key, destinations by address and port, local addresses, interface
// addresses, routes by prefix, neighbours by port and address.
//
// The result is valid as far as Config's operations check; an error names
// the change that could not be made.
func Merge(base, file, running *Config) (*Config, []Change, error) {
	m := merger{next: running.Clone(), file: file}
	m.timeouts(base.Timeouts, file.Timeouts)
	m.sysctl(base.Sysctl, file.Sysctl)
	n := m.next
	mergeSet(&m, "address", base.Addrs, file.Addrs, func() []Addr { return n.Addrs },
		func(a Addr) string { return a.Prefix.Addr().String() }, n.DelAddr, n.AddAddr)
	mergeSet(&m, "route", base.Routes, file.Routes, func() []Route { return n.Routes },
		func(r Route) string { return r.Prefix.String() }, func(r Route) error { return n.DelRoute(r.Prefix) }, n.AddRoute)
	mergeSet(&m, "neighbour", base.Neighs, file.Neighs, func() []Neigh { return n.Neighs },
		func(x Neigh) string { return x.Port + " " + x.Addr.String() }, func(x Neigh) error { return n.DelNeigh(x.Port, x.Addr) }, n.AddNeigh)
	// A rule the file adds goes after the running ones.
	mergeSet(&m, "mark rule", base.Marks, file.Marks, func() []MarkRule { return n.Marks }, MarkRule.String, n.DelMark, n.AddMark)
	for _, bvs := range base.Services {
		if _, ok := file.Lookup(bvs.Service.Key()); !ok {
			m.delService(bvs.Service)
		}
	}
	for _, fvs := range file.Services {
		bvs, inBase := base.Lookup(fvs.Service.Key())
		if !inBase {
			bvs = &VirtualService{}
		}
		m.service(bvs, &fvs)
	}
	if m.err != nil {
		return nil, nil, m.err
	}
	return m.next, m.changes, nil
}

// merger is the state of one Merge: the result so far, what it changed,
// and the first error.
type merger struct {
	next    *Config
	file    *Config
	changes []Change
	err     error
}

func (m *merger) do(kind byte, text string, op func() error) {
	if m.err != nil {
		return
	}
	if err := op(); err != nil {
		m.err = fmt.Errorf("%c %s: %w", kind, text, err)
		return
	}
	m.changes = append(m.changes, Change{kind, text})
}

func (m *merger) timeouts(base, file Timeouts) {
	cur := m.next.Timeouts
	for _, f := range []struct {
		name             string
		base, file, have uint32
	}{{"tcp", base.TCP, file.TCP, cur.TCP}, {"tcpfin", base.TCPFin, file.TCPFin, cur.TCPFin},
		{"udp", base.UDP, file.UDP, cur.UDP}, {"syn_recv", base.SynRecv, file.SynRecv, cur.SynRecv},
		{"udp_oneway", base.UDPOneway, file.UDPOneway, cur.UDPOneway}} {
		if f.base != f.file && f.file != f.have {
			m.do('~', fmt.Sprintf("timeout %s %d→%d", f.name, f.have, f.file), func() error { return nil })
		}
	}
	if base != file {
		t := m.next.Timeouts
		pick := func(b, f, have uint32) uint32 {
			if b != f {
				return f
			}
			return have
		}
		t = Timeouts{TCP: pick(base.TCP, file.TCP, t.TCP), TCPFin: pick(base.TCPFin, file.TCPFin, t.TCPFin),
			UDP: pick(base.UDP, file.UDP, t.UDP), SynRecv: pick(base.SynRecv, file.SynRecv, t.SynRecv),
			UDPOneway: pick(base.UDPOneway, file.UDPOneway, t.UDPOneway)}
		if err := m.next.SetTimeouts(t); err != nil && m.err == nil {
			m.err = err
		}
	}
}

// sysctl takes each switch the file changed.
func (m *merger) sysctl(base, file Sysctl) {
	for _, name := range SysctlNames {
		b, _ := base.Switch(name)
		f, _ := file.Switch(name)
		cur, _ := m.next.Sysctl.Switch(name)
		if *b != *f && *cur != *f {
			v := *f
			m.do('~', fmt.Sprintf("sysctl %s %t→%t", name, *cur, v), func() error { *cur = v; return nil })
		}
	}
	for _, name := range SysctlSeconds {
		b, _ := base.Seconds(name)
		f, _ := file.Seconds(name)
		cur, _ := m.next.Sysctl.Seconds(name)
		if *b != *f && *cur != *f {
			v := *f
			m.do('~', fmt.Sprintf("sysctl %s %d→%d", name, *cur, v), func() error { *cur = v; return nil })
		}
	}
}

// mergeSet merges a list of stack objects matched by id: one deleted from
// the file goes from running (if running has it), one added to or changed
// in the file replaces running's of the same id.
func mergeSet[T interface {
	comparable
	fmt.Stringer
}](m *merger, what string, base, file []T, cur func() []T, id func(T) string, del, add func(T) error) {
	find := func(list []T, k string) (T, bool) {
		for _, x := range list {
			if id(x) == k {
				return x, true
			}
		}
		var zero T
		return zero, false
	}
	for _, b := range base {
		if _, inFile := find(file, id(b)); inFile {
			continue
		}
		if have, ok := find(cur(), id(b)); ok {
			m.do('-', what+" "+have.String(), func() error { return del(have) })
		}
	}
	for _, f := range file {
		if b, ok := find(base, id(f)); ok && b == f {
			continue // not changed in the file
		}
		have, ok := find(cur(), id(f))
		switch {
		case ok && have == f:
		case ok:
			m.do('~', what+" "+have.String()+" → "+f.String(), func() error {
				if err := del(have); err != nil {
					return err
				}
				return add(f)
			})
		default:
			m.do('+', what+" "+f.String(), func() error { return add(f) })
		}
	}
}

// delService deletes a service the file no longer has, if running has it.
func (m *merger) delService(s Service) {
	if _, ok := m.next.Lookup(s.Key()); ok {
		m.do('-', "service "+s.String(), func() error { return m.next.DelService(s.Key()) })
	}
}

// service merges one service of the file (b: as the file had it, empty when
// it is new there).
func (m *merger) service(b, f *VirtualService) {
	key := f.Service.Key()
	cur, have := m.next.Lookup(key)
	switch {
	case !have && (b.Service.Key() != key || !b.Service.Equal(f.Service) || !slices.Equal(b.Dests, f.Dests) || !slices.Equal(b.Laddrs, f.Laddrs)):
		// New in the file, or changed there and deleted at runtime: it
		// comes (back) as the file has it, every destination and local
		// address included.
		m.do('+', "service "+f.Service.String(), func() error { return m.next.AddService(f.Service) })
		b = &VirtualService{}
	case have && (b.Service.Key() != key || !b.Service.Equal(f.Service)) && !cur.Service.Equal(f.Service):
		text := "service " + cur.Service.String() + " → " + f.Service.String()
		if cur.Service.String() == f.Service.String() {
			text = "service " + f.Service.String() + ": " + healthDelta(cur.Service.Health, f.Service.Health)
		}
		edit := func() { m.do('~', text, func() error { return m.next.setService(f.Service) }) }
		if o := f.Service.clientAddrOption(); o != "" && o != cur.Service.clientAddrOption() {
			// A client-address option needs FULLNAT servers: the file's
			// servers (made FULLNAT with it) go first, then the service.
			defer func() {
				if m.err == nil {
					edit()
				}
			}()
		} else {
			edit()
		}
	}
	if m.err != nil {
		return
	}
	if _, ok := m.next.Lookup(key); !ok {
		return // unchanged in the file and deleted at runtime
	}
	of := " of " + key.String()
	for _, bd := range b.Dests {
		if slices.ContainsFunc(f.Dests, func(d Dest) bool { return d.Key() == bd.Key() }) {
			continue
		}
		if m.dest(key, bd.Key()) != nil {
			m.do('-', "dest "+bd.Key().String()+of, func() error { return m.next.DelDest(key, bd.Key()) })
		}
	}
	for _, fd := range f.Dests {
		i := slices.IndexFunc(b.Dests, func(d Dest) bool { return d.Key() == fd.Key() })
		if i >= 0 && b.Dests[i] == fd {
			continue
		}
		switch cd := m.dest(key, fd.Key()); {
		case cd == nil:
			m.do('+', "dest "+fd.String()+of, func() error { return m.next.AddDest(key, fd) })
		case *cd != fd:
			m.do('~', "dest "+fd.Key().String()+of+": "+destDelta(*cd, fd, f.Service), func() error { return m.next.editDest(key, fd, false) })
		}
	}
	for _, bl := range b.Laddrs {
		if slices.ContainsFunc(f.Laddrs, func(l LocalAddr) bool { return l.Addr == bl.Addr }) {
			continue
		}
		if m.laddr(key, bl) {
			m.do('-', "laddr "+bl.String()+of, func() error { return m.next.DelLaddr(key, bl.Addr) })
		}
	}
	for _, fl := range f.Laddrs {
		if slices.Contains(b.Laddrs, fl) || m.laddr(key, fl) {
			continue
		}
		m.do('+', "laddr "+fl.String()+of, func() error {
			if vs, _ := m.next.Lookup(key); slices.ContainsFunc(vs.Laddrs, func(l LocalAddr) bool { return l.Addr == fl.Addr }) {
				if err := m.next.DelLaddr(key, fl.Addr); err != nil {
					return err
				}
			}
			return m.next.AddLaddr(key, fl)
		})
	}
}

// dest is running's destination k of service key, or nil.
func (m *merger) dest(key ServiceKey, k DestKey) *Dest {
	vs, ok := m.next.Lookup(key)
	if !ok {
		return nil
	}
	for i := range vs.Dests {
		if vs.Dests[i].Key() == k {
			return &vs.Dests[i]
		}
	}
	return nil
}

// laddr reports whether running's service key has local address l as is.
func (m *merger) laddr(key ServiceKey, l LocalAddr) bool {
	vs, ok := m.next.Lookup(key)
	return ok && slices.Contains(vs.Laddrs, l)
}

// deltas are the changes one object's delta lists.
type deltas []string

// add lists "name x→y" when x and y differ.
func (d *deltas) add(name string, x, y any) {
	if x != y {
		*d = append(*d, fmt.Sprintf("%s %v→%v", name, x, y))
	}
}

// destDelta says what differs from a to b, destinations of svc: "weight
// 1→3, fwd fullnat→masq", "check tcp every 5s→http GET / every 1s".
func destDelta(a, b Dest, svc Service) string {
	var out deltas
	add := out.add
	add("weight", a.Weight, b.Weight)
	add("fwd", a.Fwd, b.Fwd)
	add("u-threshold", a.UThresh, b.UThresh)
	add("l-threshold", a.LThresh, b.LThresh)
	add("tun-type", a.TunType, b.TunType)
	if a.Check != b.Check {
		out = append(out, "check "+checkDelta(CheckOf(svc, a), CheckOf(svc, b)))
	}
	return strings.Join(out, ", ")
}

// checkDelta says how a check changed: "tcp every 5s→http GET /
// every 1s", or the keys that differ when the short forms are the same.
func checkDelta(a, b Check) string {
	if a.String() != b.String() {
		return a.String() + "→" + b.String()
	}
	var out deltas
	add := out.add
	add("timeout", a.Timeout, b.Timeout)
	add("rise", a.Rise, b.Rise)
	add("fall", a.Fall, b.Fall)
	add("on_failure", a.OnFailure, b.OnFailure)
	add("source", a.Source, b.Source)
	add("expect_status", fmt.Sprint(a.ExpectStatus.Codes()), fmt.Sprint(b.ExpectStatus.Codes()))
	add("expect_body_regex", a.ExpectBodyRegex, b.ExpectBodyRegex)
	add("digest", a.Digest, b.Digest)
	add("payload", a.Payload, b.Payload)
	add("expect", a.Expect, b.Expect)
	return strings.Join(out, ", ")
}

// healthDelta says how a service's health settings changed.
func healthDelta(a, b Health) string {
	var out deltas
	if a.Check != b.Check {
		out = append(out, "check "+checkDelta(a.Check, b.Check))
	}
	add := out.add
	add("quorum", a.QuorumOrDefault(), b.QuorumOrDefault())
	add("sorry_server", a.SorryServer, b.SorryServer)
	add("alpha", a.Alpha, b.Alpha)
	add("notify_up", a.NotifyUp, b.NotifyUp)
	add("notify_down", a.NotifyDown, b.NotifyDown)
	return strings.Join(out, ", ")
}

// Overlay applies a saved state — ipvsadm-save or `gw adm -S` output, as
// ReadRestore parsed it — over c, all or nothing: an add of a service,
// destination or local address c already has replaces it, so that a whole
// saved state restores over the configuration file's services. Other
// commands apply as in ApplyBatch; an error names the line.
func (c *Config) Overlay(cmds []Command) error {
	n := c.Clone()
	for i, cmd := range cmds {
		err := func() error {
			switch cmd.Op {
			case OpAddService:
				if cmd.Service != nil {
					if _, ok := n.Lookup(cmd.Service.Key()); ok {
						return n.EditService(*cmd.Service)
					}
				}
			case OpAddDest:
				if cmd.Service != nil && cmd.Dest != nil {
					if vs, ok := n.Lookup(cmd.Service.Key()); ok && slices.ContainsFunc(vs.Dests, func(d Dest) bool { return d.Key() == cmd.Dest.Key() }) {
						return n.EditDest(cmd.Service.Key(), *cmd.Dest)
					}
				}
			case OpAddLaddr:
				if cmd.Service != nil && cmd.Laddr != nil {
					if vs, ok := n.Lookup(cmd.Service.Key()); ok && slices.ContainsFunc(vs.Laddrs, func(l LocalAddr) bool { return l.Addr == cmd.Laddr.Addr }) {
						if err := n.DelLaddr(cmd.Service.Key(), cmd.Laddr.Addr); err != nil {
							return err
						}
					}
				}
			case OpRestore:
				return invalidf("a restore cannot contain a restore")
			}
			return n.Apply(cmd)
		}()
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", lineOf(cmd, i), cmd, err)
		}
	}
	*c = *n
	return nil
}
