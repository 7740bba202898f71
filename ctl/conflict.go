package ctl

import "net/netip"

// CheckConflicts reports the first pair of objects of c that can only be a
// mistake, naming both: a local address that is a real server's address
// (the gateway would answer ARP for the server and take its traffic), a
// local address outside every subnet of its port (nothing would reach it),
// a VIP that is an interface address, a real server that is a VIP, a sorry
// server that is a VIP, a local address or an interface address, an
// interface address that is a VIP or a local address. Every command path
// (ipvsadm, gw ip, -R, the configuration file and its reloads) checks the
// configuration it would make with it.
func (c *Config) CheckConflicts() error {
	vips := make(map[netip.Addr]string)
	laddrs := make(map[netip.Addr]string)
	ifaddrs := make(map[netip.Addr]string)
	for _, a := range c.Addrs {
		ifaddrs[a.Prefix.Addr()] = "interface address " + a.String()
	}
	for _, vs := range c.Services {
		name := "service " + vs.Service.Key().String()
		if vs.Service.FwMark == 0 {
			vips[vs.Service.VIP] = name
		}
		for _, l := range vs.Laddrs {
			laddrs[l.Addr] = "local address " + l.Addr.String() + " of " + name
		}
	}
	for _, vs := range c.Services {
		name := "service " + vs.Service.Key().String()
		if w, ok := ifaddrs[vs.Service.VIP]; ok && vs.Service.FwMark == 0 {
			return invalidf("%s: the VIP is %s; a VIP must be an address of its own", name, w)
		}
		for _, d := range vs.Dests {
			if w, ok := vips[d.Addr]; ok {
				return invalidf("real server %s of %s is the VIP of %s", d.Key(), name, w)
			}
			if w, ok := laddrs[d.Addr]; ok {
				return invalidf("real server %s of %s is %s: the gateway would answer ARP for the server and take its traffic", d.Key(), name, w)
			}
			if w, ok := ifaddrs[d.Addr]; ok {
				return invalidf("real server %s of %s is %s", d.Key(), name, w)
			}
		}
		if ss := vs.Service.Health.SorryServer; ss.IsValid() {
			for _, m := range []map[netip.Addr]string{vips, laddrs, ifaddrs} {
				if w, ok := m[ss.Addr()]; ok {
					return invalidf("sorry server %s of %s is %s", ss, name, w)
				}
			}
		}
		for _, l := range vs.Laddrs {
			what := "local address " + l.Addr.String() + " of " + name
			if w, ok := ifaddrs[l.Addr]; ok {
				return invalidf("%s is %s", what, w)
			}
			if w, ok := vips[l.Addr]; ok {
				return invalidf("%s is the VIP of %s", what, w)
			}
			if !c.onPort(l.Port, l.Addr) {
				return invalidf("%s is in no subnet of port %s: add an address of its subnet to %s (gw ip addr add PREFIX dev %s), or use a local address of the port's subnets", what, l.Port, l.Port, l.Port)
			}
		}
	}
	return nil
}

// onPort reports whether a is inside a subnet of an interface address of
// port.
func (c *Config) onPort(port string, a netip.Addr) bool {
	for _, x := range c.Addrs {
		if x.Port == port && x.Prefix.Masked().Contains(a) {
			return true
		}
	}
	return false
}
