package ctl

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var k80 = ServiceKey{Proto: TCP, VIP: netip.MustParseAddr("198.18.1.100"), Port: 80}

func base(t *testing.T) *Config {
	c := NewConfig()
	mustApply(t, c, "-A -t 198.18.1.100:80 -s rr", "-a -t 198.18.1.100:80 -r 10.0.0.1:8080 -m -w 2", "addr add 198.18.1.1/24 dev dpdk0")
	return c
}

// TestConfigErrors: every operation's refusal, its class and the value it
// names; a refused operation changes nothing.
func TestConfigErrors(t *testing.T) {
	a := mustAddr
	tests := []struct {
		name  string
		op    func(c *Config) error
		class error
		want  string
	}{
		{"add existing service", func(c *Config) error { return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.100"), Port: 80}) }, ErrExists, "service 198.18.1.100:80/tcp already exists"},
		{"edit missing service", func(c *Config) error { return c.EditService(Service{Proto: TCP, VIP: a("198.18.1.101"), Port: 80}) }, ErrNotFound, "service 198.18.1.101:80/tcp does not exist"},
		{"delete missing service", func(c *Config) error { return c.DelService(ServiceKey{Proto: UDP, VIP: a("198.18.1.100"), Port: 80}) }, ErrNotFound, "198.18.1.100:80/udp does not exist"},
		{"fwmark", func(c *Config) error { return c.AddService(Service{FwMark: 7, VIP: a("198.18.1.1")}) }, ErrInvalid, "fwmark 7: a firewall-mark service has no address or port"},
		{"bad proto", func(c *Config) error { return c.AddService(Service{Proto: 1, VIP: a("198.18.1.1"), Port: 1}) }, ErrInvalid, "protocol must be tcp or udp"},
		{"no vip", func(c *Config) error { return c.AddService(Service{Proto: TCP, Port: 1}) }, ErrInvalid, "must be a unicast address"},
		{"zero vip", func(c *Config) error { return c.AddService(Service{Proto: TCP, VIP: a("0.0.0.0"), Port: 1}) }, ErrInvalid, "unicast"},
		{"port 0 not persistent", func(c *Config) error { return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1")}) }, ErrInvalid, "port 0 (all ports) needs persistence"},
		{"timeout without persistence", func(c *Config) error {
			return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1"), Port: 1, Timeout: 5})
		}, ErrInvalid, "timeout 5 given without persistence"},
		{"timeout too big", func(c *Config) error {
			return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1"), Port: 1, Persistent: true, Timeout: MaxTimeout + 1})
		}, ErrInvalid, "persistence timeout 2678401 above the maximum"},
		{"mask family", func(c *Config) error {
			return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1"), Port: 1, Persistent: true, Netmask: a("ffff::")})
		}, ErrInvalid, "netmask ffff:: is not of the address family"},
		{"mask holes", func(c *Config) error {
			return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1"), Port: 1, Persistent: true, Netmask: a("255.0.255.0")})
		}, ErrInvalid, "netmask 255.0.255.0 is not contiguous"},
		{"sched", func(c *Config) error {
			return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1"), Port: 1, Sched: "random"})
		}, ErrInvalid, "unknown scheduler \"random\""},
		{"flags", func(c *Config) error {
			return c.AddService(Service{Proto: TCP, VIP: a("198.18.1.1"), Port: 1, Sched: "mh", Flags: []string{"sh-port"}})
		}, ErrInvalid, "scheduler flag \"sh-port\" needs scheduler sh, not mh"},
		{"dest to missing service", func(c *Config) error {
			return c.AddDest(ServiceKey{Proto: UDP, VIP: a("198.18.1.100"), Port: 80}, Dest{})
		}, ErrNotFound, "service 198.18.1.100:80/udp does not exist"},
		{"dest exists", func(c *Config) error { return c.AddDest(k80, Dest{Addr: a("10.0.0.1"), Port: 8080, Fwd: FwdMasq}) }, ErrExists, "real server 10.0.0.1:8080 already exists"},
		{"dest no fwd", func(c *Config) error { return c.AddDest(k80, Dest{Addr: a("10.0.0.2"), Port: 80}) }, ErrInvalid, "forwarding mode missing"},
		{"dest DR port", func(c *Config) error { return c.AddDest(k80, Dest{Addr: a("10.0.0.2"), Port: 81, Fwd: FwdRoute}) }, ErrInvalid, "route forwarding keeps the service port 80"},
		{"dest TUN port", func(c *Config) error { return c.AddDest(k80, Dest{Addr: a("10.0.0.2"), Port: 81, Fwd: FwdTunnel}) }, ErrInvalid, "tunnel forwarding keeps the service port 80"},
		{"dest family", func(c *Config) error { return c.AddDest(k80, Dest{Addr: a("2001:db8::2"), Port: 80, Fwd: FwdFullNAT}) }, ErrInvalid, "only tunnel (-i) mixes families"},
		{"dest weight", func(c *Config) error {
			return c.AddDest(k80, Dest{Addr: a("10.0.0.2"), Port: 80, Fwd: FwdMasq, Weight: 70000})
		}, ErrInvalid, "weight 70000 out of range 0-65535"},
		{"dest thresholds", func(c *Config) error {
			return c.AddDest(k80, Dest{Addr: a("10.0.0.2"), Port: 80, Fwd: FwdMasq, UThresh: 5, LThresh: 6})
		}, ErrInvalid, "lower threshold 6 is higher than upper threshold 5"},
		{"dest unspecified", func(c *Config) error { return c.AddDest(k80, Dest{Addr: a("0.0.0.0"), Port: 80, Fwd: FwdMasq}) }, ErrInvalid, "real server 0.0.0.0:80: not a unicast address"},
		{"edit missing dest", func(c *Config) error { return c.EditDest(k80, Dest{Addr: a("10.0.0.9"), Port: 80, Fwd: FwdMasq}) }, ErrNotFound, "real server 10.0.0.9:80 does not exist"},
		{"del missing dest", func(c *Config) error { return c.DelDest(k80, DestKey{a("10.0.0.1"), 80}) }, ErrNotFound, "real server 10.0.0.1:80 does not exist"},
		{"laddr family", func(c *Config) error { return c.AddLaddr(k80, LocalAddr{Addr: a("2001:db8::1"), Port: "dpdk0"}) }, ErrInvalid, "local address 2001:db8::1 is of another address family"},
		{"laddr port", func(c *Config) error { return c.AddLaddr(k80, LocalAddr{Addr: a("198.18.1.10"), Port: ""}) }, ErrInvalid, "port name \"\""},
		{"laddr multicast", func(c *Config) error { return c.AddLaddr(k80, LocalAddr{Addr: a("224.0.0.1"), Port: "dpdk0"}) }, ErrInvalid, "224.0.0.1 is not a unicast"},
		{"del missing laddr", func(c *Config) error { return c.DelLaddr(k80, a("198.18.1.10")) }, ErrNotFound, "local address 198.18.1.10 does not exist"},
		{"timeouts", func(c *Config) error { return c.SetTimeouts(Timeouts{TCP: MaxTimeout + 1}) }, ErrInvalid, "timeout 2678401 above the maximum"},
		{"addr exists", func(c *Config) error {
			return c.AddAddr(Addr{Prefix: netip.MustParsePrefix("198.18.1.1/16"), Port: "dpdk1"})
		}, ErrExists, "address 198.18.1.1 already exists on port dpdk0"},
		{"addr missing", func(c *Config) error {
			return c.DelAddr(Addr{Prefix: netip.MustParsePrefix("198.18.1.1/24"), Port: "dpdk1"})
		}, ErrNotFound, "address 198.18.1.1 does not exist on port dpdk1"},
		{"route unreachable", func(c *Config) error {
			return c.AddRoute(Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Via: a("198.18.2.254"), Port: "dpdk0"})
		}, ErrInvalid, "gateway 198.18.2.254 is not on a subnet of port dpdk0"},
		{"route wrong port", func(c *Config) error {
			return c.AddRoute(Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Via: a("198.18.1.254"), Port: "dpdk1"})
		}, ErrInvalid, "not on a subnet of port dpdk1"},
		{"route missing", func(c *Config) error { return c.DelRoute(netip.MustParsePrefix("10.0.0.0/8")) }, ErrNotFound, "route 10.0.0.0/8 does not exist"},
		{"neigh missing", func(c *Config) error { return c.DelNeigh("dpdk0", a("198.18.1.2")) }, ErrNotFound, "neighbour 198.18.1.2 does not exist on port dpdk0"},
		{"neigh mac", func(c *Config) error { return c.AddNeigh(Neigh{Addr: a("198.18.1.2"), Port: "dpdk0"}) }, ErrInvalid, "00:00:00:00:00:00 is not a unicast MAC"},
		{"apply list", func(c *Config) error { return c.Apply(Command{Op: OpList}) }, ErrInvalid, "list does not change the configuration"},
		{"apply empty", func(c *Config) error { return c.Apply(Command{Op: OpAddDest, Service: &Service{}}) }, ErrInvalid, "missing its arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base(t)
			before := c.Clone()
			err := tt.op(c)
			if err == nil {
				t.Fatal("succeeded")
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("error %q is not %v", err, tt.class)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !c.Equal(before) {
				t.Error("a refused operation changed the config")
			}
		})
	}
}

// TestDestErrorOrder: a destination command is checked as the kernel
// checks it: the service first (a missing one is ErrNoService whatever is
// wrong with the destination), then the destination against the service:
// ipvsadm -a to a missing service says so, not that the port is wrong.
func TestDestErrorOrder(t *testing.T) {
	tests := []struct {
		line  string
		class error
		want  string
	}{
		{"-a -t 198.18.1.101:80 -r 10.0.0.2:8080 -g", ErrNoService, "service 198.18.1.101:80/tcp does not exist"},
		{"-a -t 198.18.1.101:80 -r 10.0.0.2 -m -x 1 -y 2", ErrNoService, "service 198.18.1.101:80/tcp does not exist"},
		{"-e -t 198.18.1.101:80 -r 10.0.0.2:8080 -i", ErrNoService, "does not exist"},
		{"-d -t 198.18.1.101:80 -r 10.0.0.2:8080", ErrNoService, "does not exist"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.2:8080", ErrInvalid, "real server 10.0.0.2:8080: route forwarding keeps the service port 80, so the port cannot differ; omit it or use masq (-m) or fullnat (--fullnat)"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.2:8080 -i", ErrInvalid, "tunnel forwarding keeps the service port 80"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.2 -x 10 -y 20", ErrInvalid, "lower threshold 20 is higher than upper threshold 10"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.2 -y 20", ErrInvalid, "lower threshold 20 is higher than upper threshold 0"},
		{"-e -t 198.18.1.100:80 -r 10.0.0.9:8080 -g", ErrNotFound, "real server 10.0.0.9:8080 does not exist"},
		{"-e -t 198.18.1.100:80 -r 10.0.0.1:8080 -g", ErrInvalid, "route forwarding keeps the service port 80"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd, err := ParseArgs(strings.Fields(tt.line))
			if err != nil {
				t.Fatalf("parse: %v (the check belongs to Config, after the service)", err)
			}
			c := base(t)
			err = c.Apply(cmd)
			if !errors.Is(err, tt.class) || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %v containing %q", err, tt.class, tt.want)
			}
			if tt.class != ErrNoService && errors.Is(err, ErrNoService) {
				t.Errorf("%v: a missing destination is not a missing service", err)
			}
		})
	}
}

// TestEditKeepsForwarding: ipvsadm -e without -g/-m/-i/--fullnat keeps the
// destination's method, where ipvsadm (whose -e defaults to -g) would turn
// a FULLNAT server into direct routing; an explicit method still changes
// it, and the other attributes are replaced as ipvsadm replaces them.
func TestEditKeepsForwarding(t *testing.T) {
	c := base(t)
	mustApply(t, c,
		"-a -t 198.18.1.100:80 -r 10.0.0.3:8080 --fullnat -w 4 -x 100",
		"-a -t 198.18.1.100:80 -r 10.0.0.4 -i -w 4",
		"-e -t 198.18.1.100:80 -r 10.0.0.3:8080 -w 0",
		"-e -t 198.18.1.100:80 -r 10.0.0.4 -w 1",
		"-e -t 198.18.1.100:80 -r 10.0.0.1:8080 -w 7",
	)
	vs, _ := c.Lookup(k80)
	var got []string
	for _, d := range vs.Dests {
		got = append(got, d.String())
	}
	want := []string{"10.0.0.1:8080 masq weight 7", "10.0.0.3:8080 fullnat weight 0", "10.0.0.4:80 tunnel weight 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after -e without a method:\n got %q\nwant %q", got, want)
	}
	mustApply(t, c, "-e -t 198.18.1.100:80 -r 10.0.0.1:8080 --fullnat -w 7")
	vs, _ = c.Lookup(k80)
	if vs.Dests[0].Fwd != FwdFullNAT {
		t.Errorf("-e --fullnat: %s", vs.Dests[0])
	}
	// Saved and restored, the edit is the same edit.
	cmd, _ := ParseArgs(strings.Fields("-e -t 198.18.1.100:80 -r 10.0.0.3:8080 -w 2"))
	if s := cmd.String(); s != "-e -t 198.18.1.100:80 -r 10.0.0.3:8080 -w 2" {
		t.Errorf("Args: %q", s)
	}
}

func TestConfigOps(t *testing.T) {
	c := base(t)
	// Defaults applied by AddService.
	if err := c.AddService(Service{Proto: UDP, VIP: mustAddr("198.18.1.100"), Port: 53, Persistent: true, Netmask: mustAddr("255.255.255.255")}); err != nil {
		t.Fatal(err)
	}
	vs, _ := c.Lookup(ServiceKey{Proto: UDP, VIP: mustAddr("198.18.1.100"), Port: 53})
	if vs.Service.Sched != "wlc" || vs.Service.Timeout != 300 || vs.Service.Netmask.IsValid() {
		t.Errorf("defaults: %+v", vs.Service)
	}
	// Edit replaces every attribute (persistence off) and keeps dests.
	mustApply(t, c, "-p -E -t 198.18.1.100:80 -s sh -b sh-port", "-E -t 198.18.1.100:80 -s lc")
	vs, _ = c.Lookup(k80)
	if vs.Service.Sched != "lc" || vs.Service.Persistent || vs.Service.Flags != nil || len(vs.Dests) != 1 {
		t.Errorf("edit: %+v", vs)
	}
	// Dests stay sorted; edit and delete.
	mustApply(t, c, "-a -t 198.18.1.100:80 -r 10.0.0.1:80 -g", "-a -t 198.18.1.100:80 -r 9.0.0.1:80 --fullnat", "-e -t 198.18.1.100:80 -r 10.0.0.1:8080 -m -w 9")
	vs, _ = c.Lookup(k80)
	var names []string
	for _, d := range vs.Dests {
		names = append(names, d.String())
	}
	want := []string{"9.0.0.1:80 fullnat weight 1", "10.0.0.1:80 route weight 1", "10.0.0.1:8080 masq weight 9"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("dests %q", names)
	}
	mustApply(t, c, "-d -t 198.18.1.100:80 -r 10.0.0.1:8080", "--add-laddr -t 198.18.1.100:80 -z 198.18.1.11 -F dpdk0", "--add-laddr -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk1", "--del-laddr -t 198.18.1.100:80 -z 198.18.1.11")
	vs, _ = c.Lookup(k80)
	if len(vs.Dests) != 2 || len(vs.Laddrs) != 1 || vs.Laddrs[0].String() != "198.18.1.10 dev dpdk1" {
		t.Errorf("after deletes: %+v", vs)
	}
	// --set 0 leaves a timeout unchanged.
	mustApply(t, c, "--set 0 30 0")
	if c.Timeouts != (Timeouts{TCP: 900, TCPFin: 30, UDP: 300, SynRecv: 60, UDPOneway: 5}) {
		t.Errorf("timeouts %v", c.Timeouts)
	}
	// Clear keeps timeouts and the stack.
	c.Clear()
	if len(c.Services) != 0 || len(c.Addrs) != 1 || c.Timeouts.TCPFin != 30 {
		t.Errorf("clear: %+v", c)
	}
	// Clone is deep.
	d := base(t)
	e := d.Clone()
	_ = e.AddDest(k80, Dest{Addr: mustAddr("10.0.0.5"), Port: 80, Fwd: FwdMasq, Weight: 1})
	if d.Equal(e) {
		t.Error("clone shares dests")
	}
	if got, ok := c.Connected(mustAddr("198.18.1.77")); !ok || got != "dpdk0" {
		t.Errorf("connected %q %v", got, ok)
	}
	if Served(mustAddr("2001:db8::1")) == nil || Served(mustAddr("198.18.1.1")) != nil {
		t.Error("Served")
	}
}

// TestTextRoundTrip: String then Parse gives the value back, for random
// values of every type with a canonical text form.
func TestTextRoundTrip(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		r := newRand(seed)
		s := randService(r)
		if got, err := ParseService(s.String()); err != nil || !got.Equal(s) {
			t.Fatalf("service %q: %v %v", s, got, err)
		}
		if got, err := ParseServiceKey(s.Key().String()); err != nil || got != s.Key() {
			t.Fatalf("key %q: %v %v", s.Key(), got, err)
		}
		d := randDest(r, s)
		if got, err := ParseDest(d.String()); err != nil || got != d {
			t.Fatalf("dest %q: %v %v", d, got, err)
		}
	}
	for _, s := range []string{"198.18.1.10 dev dpdk0", "2001:db8::1 dev port_1"} {
		if l, err := ParseLocalAddr(s); err != nil || l.String() != s {
			t.Errorf("laddr %q: %v", s, err)
		}
	}
	for _, s := range []string{"198.18.1.1/24 dev dpdk0", "198.18.1.1/31 dev a"} {
		if a, err := ParseAddr(s); err != nil || a.String() != s {
			t.Errorf("addr %q: %v", s, err)
		}
	}
	for _, s := range []string{"0.0.0.0/0 via 198.18.1.254 dev dpdk0", "10.0.0.0/8 dev dpdk1"} {
		if a, err := ParseRoute(s); err != nil || a.String() != s {
			t.Errorf("route %q: %v", s, err)
		}
	}
	if n, err := ParseNeigh("198.18.1.254 lladdr 02:AB:cd:00:00:01 dev dpdk0"); err != nil || n.String() != "198.18.1.254 lladdr 02:ab:cd:00:00:01 dev dpdk0" {
		t.Errorf("neigh: %v %v", n, err)
	}
	if tm, err := ParseTimeouts("900 120 300"); err != nil || tm.String() != "900 120 300" {
		t.Errorf("timeouts %v", err)
	}
	for _, m := range []string{"tcp", "TCP", "udp"} {
		if _, err := ParseProto(m); err != nil {
			t.Error(m, err)
		}
	}
	for in, want := range map[string]FwdMode{"nat": FwdMasq, "DR": FwdRoute, "ipip": FwdTunnel, "fnat": FwdFullNAT, "FullNat": FwdFullNAT} {
		if got, err := ParseFwdMode(in); err != nil || got != want {
			t.Errorf("fwd %q: %v %v", in, got, err)
		}
	}
}

func TestTextErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{second(ParseServiceKey("198.18.1.1:80")), "want ADDR:PORT/PROTO"},
		{second(ParseServiceKey("198.18.1.1:80/sctp")), "unknown protocol \"sctp\""},
		{second(ParseServiceKey("198.18.1.1/tcp")), "want ADDR:PORT"},
		{second(ParseService("tcp 198.18.1.1:80")), "want PROTO ADDR:PORT|fwmark MARK SCHED"},
		{second(ParseService("tcp 198.18.1.1:80 rr persistent")), "\"persistent\" needs a value"},
		{second(ParseService("tcp 198.18.1.1:80 rr mask 255.255.0.0")), "mask needs persistent"},
		{second(ParseService("tcp 198.18.1.1:80 rr color blue")), "unexpected \"color\""},
		{second(ParseService("tcp 198.18.1.1:80 rr persistent x")), "persistence timeout \"x\""},
		{second(ParseDest("10.0.0.1:80")), "want ADDR:PORT MODE"},
		{second(ParseDest("10.0.0.1:80 teleport")), "unknown forwarding mode \"teleport\""},
		{second(ParseDest("10.0.0.1:80 masq weight")), "\"weight\" needs a value"},
		{second(ParseDest("10.0.0.1:80 masq speed 3")), "unexpected \"speed\""},
		{second(ParseLocalAddr("198.18.1.10")), "want ADDR dev PORT"},
		{second(ParseTimeouts("1 2")), "want three numbers"},
		{second(ParseMAC("02:00:00:00:00:0g")), "\"0g\" is not hex"},
		{second(ParseMAC("2:0:0:0:0:1")), "six hex octets"},
		{second(ParseTunType("gre")), "not supported yet"},
		{second(ParseTunType("vxlan")), "unknown tunnel type"},
		{second(MaskFromBits(mustAddr("1.2.3.4"), 33)), "netmask /33 out of range 0-32"},
		{CheckPortName("dpdk 0"), "port name \"dpdk 0\""},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) || !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("error %v, want %q", tt.err, tt.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestPortZeroRefusesFullNAT: a port-0 service takes route, tunnel and masq
// real servers, not fullnat ones, and says why.
func TestPortZeroRefusesFullNAT(t *testing.T) {
	c := NewConfig()
	k := ServiceKey{Proto: TCP, VIP: mustAddr("198.18.1.1")}
	if err := c.AddService(Service{Proto: TCP, VIP: k.VIP, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []FwdMode{FwdRoute, FwdTunnel, FwdMasq} {
		if err := c.AddDest(k, Dest{Addr: mustAddr("10.0.0." + strconv.Itoa(int(f))), Fwd: f, Weight: 1}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	err := c.AddDest(k, Dest{Addr: mustAddr("10.0.0.9"), Fwd: FwdFullNAT, Weight: 1})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(fmt.Sprint(err), "real server 10.0.0.9:0: service 198.18.1.1:0/tcp takes every port, which fullnat cannot serve") {
		t.Errorf("fullnat real server of a port-0 service: %v", err)
	}
}
