package ctl

import (
	"math/rand"
	"net/netip"
	"strings"
)

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

func pick[T any](r *rand.Rand, s []T) T { return s[r.Intn(len(s))] }

// randService returns a random valid, normalized service.
func randService(r *rand.Rand) Service {
	var s Service
	s.Proto = pick(r, []Proto{TCP, UDP})
	if r.Intn(6) == 0 {
		s.VIP = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(1 + r.Intn(4))})
	} else {
		s.VIP = netip.AddrFrom4([4]byte{198, 18, byte(r.Intn(3)), byte(1 + r.Intn(250))})
	}
	s.Port = pick(r, []uint16{80, 443, 53, 8080, uint16(1 + r.Intn(65535))})
	s.Sched = pick(r, Schedulers[:])
	switch s.Sched {
	case "sh", "mh":
		for _, f := range SchedFlags {
			if f.Sched == s.Sched && r.Intn(2) == 0 {
				s.Flags = append(s.Flags, f.Name)
			}
		}
	}
	if r.Intn(3) == 0 {
		s.Persistent = true
		s.Timeout = uint32(1 + r.Intn(MaxTimeout))
		if r.Intn(2) == 0 {
			s.Port = 0
		}
		if r.Intn(2) == 0 {
			m, _ := MaskFromBits(s.VIP, r.Intn(s.VIP.BitLen()+1))
			s.Netmask = m
		}
	}
	s.OnePacket = r.Intn(4) == 0
	if r.Intn(8) == 0 {
		s.FwMark, s.VIP, s.Port = uint32(1+r.Intn(1000)), netip.Addr{}, 0
		if s.Netmask.IsValid() && s.Netmask.Is6() {
			s.Netmask = netip.Addr{}
		}
	}
	n, err := s.normalize()
	if err != nil {
		panic(err)
	}
	return n
}

func randDest(r *rand.Rand, s Service) Dest {
	d := Dest{Weight: r.Intn(MaxWeight + 1), Fwd: FwdMode(1 + r.Intn(4))}
	if s.VIP.Is6() || (d.Fwd == FwdTunnel && r.Intn(4) == 0) {
		d.Addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 14: byte(r.Intn(4)), 15: byte(1 + r.Intn(250))})
	} else {
		d.Addr = netip.AddrFrom4([4]byte{10, 0, byte(r.Intn(4)), byte(1 + r.Intn(250))})
	}
	if s.VIP.Is6() != d.Addr.Is6() && d.Fwd != FwdTunnel {
		d.Fwd = FwdTunnel
	}
	d.Port = s.Port
	if s.Port == 0 && d.Fwd == FwdFullNAT {
		d.Fwd = FwdMasq
	}
	if d.Fwd == FwdMasq || d.Fwd == FwdFullNAT {
		d.Port = pick(r, []uint16{s.Port, 8080, uint16(r.Intn(65536))})
	}
	if r.Intn(3) == 0 {
		d.UThresh = uint32(r.Intn(100000))
		d.LThresh = uint32(r.Intn(int(d.UThresh) + 1))
	}
	return d
}

// randConfig builds a random valid Config through the public operations.
func randConfig(r *rand.Rand) *Config {
	c := NewConfig()
	if r.Intn(2) == 0 {
		_ = c.SetTimeouts(Timeouts{TCP: uint32(r.Intn(3)) * 600, TCPFin: uint32(r.Intn(200)), UDP: uint32(r.Intn(1000))})
	}
	ports := []string{"dpdk0", "dpdk1"}
	for i := range r.Intn(3) {
		a := Addr{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), byte(1 + r.Intn(200))}), 24), Port: ports[i%2]}
		_ = c.AddAddr(a)
	}
	for _, a := range c.Addrs {
		if r.Intn(2) == 0 {
			via := a.Prefix.Masked().Addr().As4()
			via[3] = 254
			_ = c.AddRoute(Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(10 + r.Intn(3)), 0, 0, 0}), 8), Via: netip.AddrFrom4(via), Port: a.Port})
		}
		if r.Intn(2) == 0 {
			_ = c.AddRoute(Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(16 + r.Intn(4)), 0, 0}), 16), Port: a.Port})
		}
		if r.Intn(2) == 0 {
			n := a.Prefix.Masked().Addr().As4()
			n[3] = byte(200 + r.Intn(50))
			_ = c.AddNeigh(Neigh{Addr: netip.AddrFrom4(n), MAC: MAC{2, 0, 0, 0, byte(r.Intn(3)), byte(r.Intn(256))}, Port: a.Port})
		}
	}
	for range r.Intn(6) {
		s := randService(r)
		if c.AddService(s) != nil {
			continue
		}
		for range r.Intn(5) {
			_ = c.AddDest(s.Key(), randDest(r, s))
		}
		for range r.Intn(3) {
			l := LocalAddr{Port: pick(r, ports)}
			if s.VIP.Is6() {
				l.Addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 15: byte(1 + r.Intn(250))})
			} else {
				l.Addr = netip.AddrFrom4([4]byte{198, 18, 9, byte(1 + r.Intn(250))})
			}
			_ = c.AddLaddr(s.Key(), l)
		}
	}
	return c
}

// mutate returns a random variation of c: some services kept, edited,
// dests changed, so Diff has work of every kind.
func mutate(r *rand.Rand, c *Config) *Config {
	n := c.Clone()
	for _, vs := range c.Services {
		k := vs.Service.Key()
		switch r.Intn(5) {
		case 0:
			_ = n.DelService(k)
			continue
		case 1:
			s := vs.Service
			s.Sched = pick(r, []string{"rr", "wrr", "lc"})
			s.Flags = nil
			if s.Port != 0 {
				s.Persistent, s.Timeout, s.Netmask = r.Intn(2) == 0, 0, netip.Addr{}
			}
			if err := n.EditService(s); err != nil {
				panic(err)
			}
		}
		nvs, _ := n.Lookup(k)
		for _, d := range slicesClone(nvs.Dests) {
			switch r.Intn(4) {
			case 0:
				_ = n.DelDest(k, d.Key())
			case 1:
				d.Weight = r.Intn(100)
				_ = n.EditDest(k, d)
			}
		}
		nvs, _ = n.Lookup(k)
		for _, l := range slicesClone(nvs.Laddrs) {
			if r.Intn(3) == 0 {
				_ = n.DelLaddr(k, l.Addr)
				if r.Intn(2) == 0 {
					l.Port = "dpdk9"
					_ = n.AddLaddr(k, l)
				}
			}
		}
		for range r.Intn(3) {
			_ = n.AddDest(k, randDest(r, nvs.Service))
		}
	}
	other := randConfig(r)
	for _, vs := range other.Services {
		if n.AddService(vs.Service) == nil {
			for _, d := range vs.Dests {
				_ = n.AddDest(vs.Service.Key(), d)
			}
		}
	}
	if r.Intn(2) == 0 {
		n.Timeouts = other.Timeouts
	}
	if r.Intn(2) == 0 {
		n.Addrs, n.Routes, n.Neighs = other.Addrs, other.Routes, other.Neighs
	}
	return n
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

func splitFields(s string) []string { return strings.Fields(s) }
