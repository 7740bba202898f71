package ctl

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func svcKey(p Proto, a string, port uint16) *Service {
	return &Service{Proto: p, VIP: mustAddr(a), Port: port}
}

func TestParseArgsValid(t *testing.T) {
	vip := mustAddr("198.18.1.100")
	tests := []struct {
		args string
		want Command
	}{
		{"", Command{Op: OpList, List: &ListOptions{}}},
		{"-A -t 198.18.1.100:80", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc"}}},
		{"--add-service --tcp-service 198.18.1.100:80 --scheduler rr", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr"}}},
		{"-At 198.18.1.100:80 -s rr", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr"}}},
		{"-A -t198.18.1.100:80 -srr", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr"}}},
		{"--add-service --tcp-service=198.18.1.100:80 --scheduler=rr", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr"}}},
		{"-s rr -A -t 198.18.1.100:80", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr"}}},
		{"-A -u 198.18.1.100:53 -s sh -b sh-port,sh-fallback", Command{Op: OpAddService, Service: &Service{Proto: UDP, VIP: vip, Port: 53, Sched: "sh", Flags: []string{"sh-fallback", "sh-port"}}}},
		{"-A -t 198.18.1.100:80 -p", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", Persistent: true, Timeout: 300}}},
		{"-A -t 198.18.1.100:80 -p -s rr", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr", Persistent: true, Timeout: 300}}},
		{"-A -t 198.18.1.100:80 -p 600", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", Persistent: true, Timeout: 600}}},
		{"-A -t 198.18.1.100:80 -p600", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", Persistent: true, Timeout: 600}}},
		{"-A -t 198.18.1.100:80 --persistent=60", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", Persistent: true, Timeout: 60}}},
		{"-A -t 198.18.1.100 -p -M 255.255.255.0", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 0, Sched: "wlc", Persistent: true, Timeout: 300, Netmask: mustAddr("255.255.255.0")}}},
		{"-A -t 198.18.1.100:80 -p 10 -M 255.255.255.255", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", Persistent: true, Timeout: 10}}},
		{"-A -t 198.18.1.100:80 -M 255.255.255.0", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc"}}},
		{"-A -t [2001:db8::1]:443 -p -M 64", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: mustAddr("2001:db8::1"), Port: 443, Sched: "wlc", Persistent: true, Timeout: 300, Netmask: mustAddr("ffff:ffff:ffff:ffff::")}}},
		{"-A -t 2001:db8::1 -p", Command{Op: OpAddService, Service: &Service{Proto: TCP, VIP: mustAddr("2001:db8::1"), Sched: "wlc", Persistent: true, Timeout: 300}}},
		{"-A -u 198.18.1.100:53 -s rr -o", Command{Op: OpAddService, Service: &Service{Proto: UDP, VIP: vip, Port: 53, Sched: "rr", OnePacket: true}}},
		{"--add-service --udp-service 198.18.1.100:53 --ops", Command{Op: OpAddService, Service: &Service{Proto: UDP, VIP: vip, Port: 53, Sched: "wlc", OnePacket: true}}},
		{"-A --fwmark-service 1 -s rr -p", Command{Op: OpAddService, Service: &Service{FwMark: 1, Proto: TCP, Sched: "rr", Persistent: true, Timeout: 300}}},
		{"-A -f 7 -p 60 -M 255.255.255.0", Command{Op: OpAddService, Service: &Service{FwMark: 7, Proto: TCP, Sched: "wlc", Persistent: true, Timeout: 60, Netmask: mustAddr("255.255.255.0")}}},
		{"-a -f 7 -r 10.0.0.1 -m", Command{Op: OpAddDest, Service: &Service{FwMark: 7, Proto: TCP}, Dest: &Dest{Addr: mustAddr("10.0.0.1"), Weight: 1, Fwd: FwdMasq}}},
		{"-E -t 198.18.1.100:80 -s lc", Command{Op: OpEditService, Service: &Service{Proto: TCP, VIP: vip, Port: 80, Sched: "lc"}}},
		{"-D -t 198.18.1.100:80", Command{Op: OpDelService, Service: svcKey(TCP, "198.18.1.100", 80)}},
		{"--delete-service --udp-service 198.18.1.100:53", Command{Op: OpDelService, Service: svcKey(UDP, "198.18.1.100", 53)}},
		{"-C", Command{Op: OpClear}},
		{"--clear", Command{Op: OpClear}},
		{"-R", Command{Op: OpRestore}},
		{"-S", Command{Op: OpSave, List: &ListOptions{}}},
		{"-S -n", Command{Op: OpSave, List: &ListOptions{Numeric: true}}},
		{"-Sn", Command{Op: OpSave, List: &ListOptions{Numeric: true}}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 80, Weight: 1, Fwd: FwdRoute}}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1:80 -g -w 0", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 80, Weight: 0, Fwd: FwdRoute}}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1:8080 -m -w 3 -x 100 -y 10", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 8080, Weight: 3, Fwd: FwdMasq, UThresh: 100, LThresh: 10}}},
		{"--add-server --tcp-service 198.18.1.100:80 --real-server 10.0.0.1:8080 --masquerading --weight 3 --u-threshold 100 --l-threshold 10", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 8080, Weight: 3, Fwd: FwdMasq, UThresh: 100, LThresh: 10}}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1:8080 --fullnat", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 8080, Weight: 1, Fwd: FwdFullNAT}}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -i --tun-type ipip", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 80, Weight: 1, Fwd: FwdTunnel}}},
		{"--add-server -t 198.18.1.100:80 -r 10.0.0.1 --ipip", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 80, Weight: 1, Fwd: FwdTunnel}}},
		{"-a -t 198.18.1.100:80 -r 2001:db8::9 -i", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("2001:db8::9"), Port: 80, Weight: 1, Fwd: FwdTunnel}}},
		{"-e -t 198.18.1.100:80 -r 10.0.0.1:80 --gatewaying -w 5", Command{Op: OpEditDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 80, Weight: 5, Fwd: FwdRoute}}},
		{"-e -t 198.18.1.100:80 -r 10.0.0.1:8080 -w 0", Command{Op: OpEditDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 8080}}},
		{"-a -r 10.0.0.1:8080 -t 198.18.1.100:80 -m", Command{Op: OpAddDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 8080, Weight: 1, Fwd: FwdMasq}}},
		{"-d -t 198.18.1.100:80 -r 10.0.0.1:8080", Command{Op: OpDelDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 8080}}},
		{"-d -t 198.18.1.100:80 -r 10.0.0.1", Command{Op: OpDelDest, Service: svcKey(TCP, "198.18.1.100", 80), Dest: &Dest{Addr: mustAddr("10.0.0.1"), Port: 80}}},
		{"-L", Command{Op: OpList, List: &ListOptions{}}},
		{"-l", Command{Op: OpList, List: &ListOptions{}}},
		{"-Ln", Command{Op: OpList, List: &ListOptions{Numeric: true}}},
		{"-lnc", Command{Op: OpList, List: &ListOptions{Numeric: true, Conn: true}}},
		{"--list --numeric --connection", Command{Op: OpList, List: &ListOptions{Numeric: true, Conn: true}}},
		{"-L -n --stats --exact", Command{Op: OpList, List: &ListOptions{Numeric: true, Stats: true, Exact: true}}},
		{"-L -X --rate", Command{Op: OpList, List: &ListOptions{Exact: true, Rate: true}}},
		{"-L --thresholds --persistent-conn --sort", Command{Op: OpList, List: &ListOptions{Thresholds: true, PersistentConn: true}}},
		{"-L --timeout", Command{Op: OpList, List: &ListOptions{Timeout: true}}},
		{"-L --daemon", Command{Op: OpList, List: &ListOptions{Daemon: true}}},
		{"-L --tun-info --nosort --json", Command{Op: OpList, List: &ListOptions{TunInfo: true, NoSort: true, JSON: true}}},
		{"-L -c --persistent-conn", Command{Op: OpList, List: &ListOptions{Conn: true, PersistentConn: true}}},
		{"-L -n -c --local", Command{Op: OpList, List: &ListOptions{Numeric: true, Conn: true, Local: true}}},
		{"-Ln -t 198.18.1.100:80", Command{Op: OpList, Service: svcKey(TCP, "198.18.1.100", 80), List: &ListOptions{Numeric: true}}},
		{"-Z", Command{Op: OpZero}},
		{"-Z -u 198.18.1.100:53", Command{Op: OpZero, Service: svcKey(UDP, "198.18.1.100", 53)}},
		{"--set 900 120 300", Command{Op: OpSetTimeouts, Timeouts: &Timeouts{TCP: 900, TCPFin: 120, UDP: 300}}},
		{"--set 0 60 0", Command{Op: OpSetTimeouts, Timeouts: &Timeouts{TCPFin: 60}}},
		{"--add-laddr -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0", Command{Op: OpAddLaddr, Service: svcKey(TCP, "198.18.1.100", 80), Laddr: &LocalAddr{Addr: mustAddr("198.18.1.10"), Port: "dpdk0"}}},
		{"-P -t 198.18.1.100:80 --laddr 198.18.1.10 --ifname dpdk0", Command{Op: OpAddLaddr, Service: svcKey(TCP, "198.18.1.100", 80), Laddr: &LocalAddr{Addr: mustAddr("198.18.1.10"), Port: "dpdk0"}}},
		{"--del-laddr -t 198.18.1.100:80 -z 198.18.1.10", Command{Op: OpDelLaddr, Service: svcKey(TCP, "198.18.1.100", 80), Laddr: &LocalAddr{Addr: mustAddr("198.18.1.10")}}},
		{"-Q -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0", Command{Op: OpDelLaddr, Service: svcKey(TCP, "198.18.1.100", 80), Laddr: &LocalAddr{Addr: mustAddr("198.18.1.10"), Port: "dpdk0"}}},
		{"--get-laddr", Command{Op: OpGetLaddr}},
		{"-G -t 198.18.1.100:80 --json", Command{Op: OpGetLaddr, Service: svcKey(TCP, "198.18.1.100", 80), List: &ListOptions{JSON: true}}},
		{"-h", Command{Op: OpHelp}},
		{"--help", Command{Op: OpHelp}},
		{"-v", Command{Op: OpVersion}},
		{"--version", Command{Op: OpVersion}},
		{"-A -s rr -- -t", Command{}}, // placeholder replaced below: "--" makes -t positional
	}
	for _, tt := range tests {
		if tt.want.Op == "" {
			continue
		}
		t.Run(tt.args, func(t *testing.T) {
			got, err := ParseArgs(strings.Fields(tt.args))
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseArgs(%q)\n got %+v\nwant %+v", tt.args, dump(got), dump(tt.want))
			}
		})
	}
}

func dump(c Command) string {
	s := string(c.Op)
	if c.Service != nil {
		s += " svc{" + c.Service.String() + "}"
	}
	if c.Dest != nil {
		s += " dest{" + c.Dest.String() + "}"
	}
	if c.Laddr != nil {
		s += " laddr{" + c.Laddr.String() + "}"
	}
	if c.List != nil {
		s += " list" + strings.Join(c.List.args(), ",")
	}
	if c.Timeouts != nil {
		s += " t{" + c.Timeouts.String() + "}"
	}
	return s
}

// TestParseArgsErrors: every parse error, with the text it must contain
// (the offending token and what is accepted).
func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args  string
		usage bool // *UsageError rather than an invalid value
		want  []string
	}{
		{"-n", true, []string{"no command given", "-A"}},
		{"-t 198.18.1.100:80", true, []string{"no command given"}},
		{"-A -a -t 198.18.1.100:80", true, []string{"two commands", "-A", "-a"}},
		{"-L -L", true, []string{"given twice"}},
		{"--frobnicate", true, []string{"unknown option --frobnicate"}},
		{"--add", true, []string{"did you mean", "--add-service", "--add-server"}},
		{"-A -t 198.18.1.100:80 --schedule rr", true, []string{"--schedule", "did you mean --scheduler"}},
		{"-K", true, []string{"unknown option -K", "-h"}},
		{"-LnK", true, []string{"unknown option -K", "\"-LnK\""}},
		{"-scheduler", true, []string{"long options take two dashes", "--scheduler"}},
		{"--clear=yes", true, []string{"--clear takes no value"}},
		{"-A -t", true, []string{"-t (--tcp-service) needs an argument", "host[:port]"}},
		{"-A --tcp-service", true, []string{"--tcp-service) needs an argument"}},
		{"-A -t 198.18.1.100:80 -s", true, []string{"-s (--scheduler) needs an argument", "wlc"}},
		{"-A", true, []string{"add-service command (-A) needs a virtual service", "-t|-u"}},
		{"-D", true, []string{"delete-service", "needs a virtual service"}},
		{"-a -t 198.18.1.100:80", true, []string{"add-server command (-a) needs option -r (real-server)"}},
		{"-d -t 198.18.1.100:80", true, []string{"needs option -r (real-server)"}},
		{"-A -t 198.18.1.100:80 -r 10.0.0.1", true, []string{"option -r (real-server) is not allowed with the add-service command (-A)"}},
		{"-A -t 198.18.1.100:80 -w 3", true, []string{"-w (weight) is not allowed"}},
		{"-A -t 198.18.1.100:80 -m", true, []string{"forwarding-method", "not allowed"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -s rr", true, []string{"-s (scheduler) is not allowed with the add-server command"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -p", true, []string{"-p (persistent) is not allowed"}},
		{"-d -t 198.18.1.100:80 -r 10.0.0.1 -w 3", true, []string{"-w (weight) is not allowed with the delete-server"}},
		{"-C -t 198.18.1.100:80", true, []string{"not allowed with the clear command"}},
		{"-S -c", true, []string{"-c (connection) is not allowed with the save command"}},
		{"-L -c -t 198.18.1.100:80", true, []string{"conflicts with", "connection", "service-address"}},
		{"-L -c --timeout", true, []string{"--timeout (timeout) conflicts with -c (connection)"}},
		{"-L -c --stats", true, []string{"options conflict in the list command"}},
		{"-L --timeout --rate", true, []string{"options conflict"}},
		{"-L --daemon --persistent-conn", true, []string{"options conflict"}},
		{"-L -s rr", true, []string{"-s (scheduler) is not allowed with the list command"}},
		{"-L -n --local", true, []string{"--local", "use it with -c"}},
		{"-S --local", true, []string{"--local (local) is not allowed with the save command"}},
		{"-L --stats --stats", true, []string{"--stats (stats) given twice"}},
		{"-A -t 198.18.1.100:80 -t 198.18.1.100:81", true, []string{"service-address", "given twice"}},
		{"-A -t 198.18.1.100:80 -u 198.18.1.100:81", true, []string{"given twice"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -m -g", true, []string{"forwarding-method", "given twice"}},
		{"--set 1 2", true, []string{"--set needs 3 timeout values"}},
		{"--set 1 2 3 4", true, []string{"unexpected argument \"4\""}},
		{"-L extra", true, []string{"unexpected argument \"extra\""}},
		{"-A -t 198.18.1.100:80 -f 1", true, []string{"given twice"}},
		{"-A -f 0", false, []string{"invalid firewall mark \"0\" for -f (--fwmark-service): want 1-4294967295"}},
		{"-A -f x1", false, []string{"invalid firewall mark \"x1\""}},
		{"-A -f 1 -6", true, []string{"IPv6 firewall-mark services are not supported yet"}},
		{"-A --sctp-service 198.18.1.100:80", true, []string{"SCTP"}},
		{"-a -u 198.18.1.100:53 -r 10.0.0.1 -o", true, []string{"-o (ops) is not allowed with the add-server command"}},
		{"-A -t 198.18.1.100:80 --pe sip", true, []string{"persistence engines"}},
		{"--start-daemon master", true, []string{"sync daemon"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -i --tun-port 6080", true, []string{"GUE"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -m --tun-type ipip", true, []string{"--tun-type only applies to tunnel"}},
		{"-e -t 198.18.1.100:80 -r 10.0.0.1 -w 2 --tun-type ipip", true, []string{"--tun-type only applies to tunnel"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -i --tun-type gue", false, []string{"tunnel type \"gue\" is not supported"}},
		{"-A -t 198.18.1.100:80 -6", true, []string{"-6"}},
		{"--add-laddr -t 198.18.1.100:80 -z 198.18.1.10", true, []string{"needs option -F (ifname)"}},
		{"--add-laddr -t 198.18.1.100:80 -F dpdk0", true, []string{"needs option -z (local-address)"}},
		{"-A -t 198.18.1.100:80 -z 198.18.1.10", true, []string{"-z (local-address) is not allowed"}},
		// values
		{"-A -t 198.18.1.100:http", false, []string{"port \"http\" must be a number", "not resolved"}},
		{"-A -t www.example.com:80", false, []string{"\"www.example.com\" is not a numeric IP address"}},
		{"-A -t 80", false, []string{"\"80\" is not a numeric IP address"}},
		{"-A -t 198.18.1.100:70000", false, []string{"port \"70000\""}},
		{"-A -t 198.18.1.300:80", false, []string{"198.18.1.300"}},
		{"-A -t [2001:db8::1:80", false, []string{"want host[:port]"}},
		{"-A -t 198.18.1.100", false, []string{"port 0 (all ports) needs persistence (-p)"}},
		{"-A -t 198.18.1.100:80 -s fancy", false, []string{"unknown scheduler \"fancy\"", "rr, wrr"}},
		{"-A -t 198.18.1.100:80 -s rr -b sh-port", false, []string{"scheduler flag \"sh-port\" needs scheduler sh, not rr"}},
		{"-A -t 198.18.1.100:80 -b sh-port", false, []string{"needs scheduler sh, not wlc"}},
		{"-A -t 198.18.1.100:80 -s sh -b flag-1", false, []string{"unknown scheduler flag \"flag-1\"", "sh-fallback"}},
		{"-A -t 198.18.1.100:80 -p 0", false, []string{"invalid persistence timeout \"0\"", "1-2678400"}},
		{"-A -t 198.18.1.100:80 -p 2678401", false, []string{"\"2678401\""}},
		{"-A -t 198.18.1.100:80 -p abc -s rr", false, []string{"invalid persistence timeout \"abc\""}},
		{"-A -t 198.18.1.100:80 -p -M 255.0.255.0", false, []string{"netmask \"255.0.255.0\" is not contiguous"}},
		{"-A -t 198.18.1.100:80 -p -M 24", false, []string{"netmask \"24\" must be a dotted quad"}},
		{"-A -t [2001:db8::1]:80 -p -M 129", false, []string{"IPv6 netmask \"129\" must be a prefix length 1-128"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -w -1", false, []string{"invalid weight \"-1\"", "0-65535"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -w 65536", false, []string{"invalid weight \"65536\""}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -x lots", false, []string{"invalid threshold \"lots\""}},
		{"-a -t 198.18.1.100:80 -r 2001:db8::9 -m", false, []string{"address family differs", "only tunnel (-i)"}},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1:x -m", false, []string{"port \"x\""}},
		{"--set 900 abc 300", false, []string{"invalid timeout value \"abc\""}},
		{"--set 900 120 2678401", false, []string{"\"2678401\""}},
		{"--add-laddr -t 198.18.1.100:80 -z nothost -F dpdk0", false, []string{"\"nothost\" is not a numeric IP address"}},
		{"--add-laddr -t 198.18.1.100:80 -z 198.18.1.10 -F 0bad", false, []string{"port name \"0bad\""}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			_, err := ParseArgs(strings.Fields(tt.args))
			if err == nil {
				t.Fatalf("ParseArgs(%q) succeeded, want error", tt.args)
			}
			var ue *UsageError
			if isUsage := errors.As(err, &ue); isUsage != tt.usage {
				t.Errorf("ParseArgs(%q) error %q: usage error %v, want %v", tt.args, err, isUsage, tt.usage)
			}
			if !tt.usage && !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseArgs(%q) error %q does not wrap ErrInvalid", tt.args, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseArgs(%q) error %q does not contain %q", tt.args, err, w)
				}
			}
		})
	}
}

// TestDoubleDashEndsOptions: after "--" everything is positional, so an
// option there is an unexpected argument.
func TestDoubleDashEndsOptions(t *testing.T) {
	_, err := ParseArgs([]string{"-L", "--", "-n"})
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "-n"`) {
		t.Fatalf("got %v", err)
	}
	c, err := ParseArgs([]string{"--set", "--", "1", "2", "3"})
	if err != nil || *c.Timeouts != (Timeouts{TCP: 1, TCPFin: 2, UDP: 3}) {
		t.Fatalf("got %v %v", c, err)
	}
}

// TestArgsRoundTrip: Args renders every command so that ParseArgs reads it
// back identically, for the commands of random configs.
func TestArgsRoundTrip(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		r := newRand(seed)
		c := randConfig(r)
		cmds := Diff(NewConfig(), c)
		cmds = append(cmds, Diff(c, randConfig(r))...)
		for _, cmd := range cmds {
			args := cmd.Args()
			var got Command
			var err error
			if cmd.Addr != nil || cmd.Route != nil || cmd.Neigh != nil {
				got, err = ParseStackArgs(args)
			} else {
				got, err = ParseArgs(args)
			}
			if err != nil {
				t.Fatalf("seed %d: parse %q: %v", seed, args, err)
			}
			if cmd.Op == OpDelRoute {
				cmd.Route = &Route{Prefix: cmd.Route.Prefix}
			}
			if cmd.Op == OpDelNeigh {
				cmd.Neigh = &Neigh{Addr: cmd.Neigh.Addr, Port: cmd.Neigh.Port}
			}
			if cmd.Op == OpSetTimeouts { // --set has no SYN_RECV timeout
				t := cmd.Timeouts.ipvsadm()
				cmd.Timeouts = &t
			}
			if !reflect.DeepEqual(got, cmd) {
				t.Fatalf("seed %d: %q\n got %s\nwant %s", seed, args, dump(got), dump(cmd))
			}
		}
	}
}

func TestListArgsRoundTrip(t *testing.T) {
	for _, s := range []string{"-L -n -c --persistent-conn", "-L -n -c --local", "-L --stats --exact --nosort --json", "-L -t 198.18.1.100:80 --rate", "-L --timeout", "-L --daemon --json", "-L --thresholds", "-L --tun-info", "-S -n", "-G --json", "-Z -t 198.18.1.100:80", "-R", "-C", "-h", "-v"} {
		c, err := ParseArgs(strings.Fields(s))
		if err != nil {
			t.Fatal(s, err)
		}
		c2, err := ParseArgs(c.Args())
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Errorf("%q -> %q -> %v %v", s, c.Args(), dump(c2), err)
		}
	}
}

func TestParseStackArgs(t *testing.T) {
	good := []struct {
		args string
		want Command
	}{
		{"addr add 198.18.1.1/24 dev dpdk0", Command{Op: OpAddAddr, Addr: &Addr{Prefix: netip.MustParsePrefix("198.18.1.1/24"), Port: "dpdk0"}}},
		{"addr del 198.18.1.1/24 dev dpdk0", Command{Op: OpDelAddr, Addr: &Addr{Prefix: netip.MustParsePrefix("198.18.1.1/24"), Port: "dpdk0"}}},
		{"addr show", Command{Op: OpListAddr}},
		{"route add 0.0.0.0/0 via 198.18.1.254 dev dpdk0", Command{Op: OpAddRoute, Route: &Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Via: mustAddr("198.18.1.254"), Port: "dpdk0"}}},
		{"route add 198.18.2.0/24 dev dpdk1", Command{Op: OpAddRoute, Route: &Route{Prefix: netip.MustParsePrefix("198.18.2.0/24"), Port: "dpdk1"}}},
		{"route del 0.0.0.0/0", Command{Op: OpDelRoute, Route: &Route{Prefix: netip.MustParsePrefix("0.0.0.0/0")}}},
		{"route ls --json", Command{Op: OpListRoute, List: &ListOptions{JSON: true}}},
		{"neigh add 198.18.1.254 lladdr 02:00:00:00:00:01 dev dpdk0", Command{Op: OpAddNeigh, Neigh: &Neigh{Addr: mustAddr("198.18.1.254"), MAC: MAC{2, 0, 0, 0, 0, 1}, Port: "dpdk0"}}},
		{"neigh del 198.18.1.254 dev dpdk0", Command{Op: OpDelNeigh, Neigh: &Neigh{Addr: mustAddr("198.18.1.254"), Port: "dpdk0"}}},
	}
	for _, tt := range good {
		got, err := ParseStackArgs(strings.Fields(tt.args))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, %v", tt.args, got, err)
		}
	}
	bad := []struct{ args, want string }{
		{"addr", "want OBJECT VERB"},
		{"link add x", "unknown object \"link\""},
		{"addr flush", "unknown verb \"flush\""},
		{"addr show dpdk0", "takes no arguments"},
		{"addr add 198.18.1.1 dev dpdk0", "\"198.18.1.1\" is not an address with prefix length"},
		{"addr add 198.18.1.0/24 dev dpdk0", "network address"},
		{"addr add 198.18.1.255/24 dev dpdk0", "broadcast address"},
		{"addr add 198.18.1.1/24 dpdk0", "want ADDR/BITS dev PORT"},
		{"route add 198.18.2.1/24 dev dpdk0", "host bits set; did you mean 198.18.2.0/24"},
		{"route add 0.0.0.0/0 via x dev dpdk0", "\"x\" is not a numeric IP address"},
		{"route add 0.0.0.0/0 via 2001:db8::1 dev dpdk0", "another address family"},
		{"route del 0.0.0.0/0 dev dpdk0", "route del takes one prefix"},
		{"route del 10.0.0.1/8", "host bits"},
		{"neigh add 198.18.1.254 lladdr 01:00:5e:00:00:01 dev dpdk0", "not a unicast MAC"},
		{"neigh add 198.18.1.254 lladdr 02:00:00:00:00 dev dpdk0", "six hex octets"},
		{"neigh add 198.18.1.254 lladdr zz:00:00:00:00:01 dev dpdk0", "\"zz\" is not hex"},
		{"neigh del 198.18.1.254", "neigh del wants ADDR dev PORT"},
	}
	for _, tt := range bad {
		_, err := ParseStackArgs(strings.Fields(tt.args))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestUsageAndVersion(t *testing.T) {
	u := Usage("ipvsadm")
	for _, w := range []string{VersionText, "  ipvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [-b sched-flags]\n",
		"  --add-service     -A        add virtual service with options\n", "--fullnat", "rr|wrr|lc|wlc", "the default scheduler is wlc.", "--get-laddr"} {
		if !strings.Contains(u, w) {
			t.Errorf("usage lacks %q", w)
		}
	}
	if c, _ := ParseArgs([]string{"-h"}); c.Op != OpHelp {
		t.Error("-h is not help")
	}
	if TryHelp("ipvsadm") != "Try `ipvsadm -h' or 'ipvsadm --help' for more information." {
		t.Error(TryHelp("ipvsadm"))
	}
}

// fakeNames resolves a few names, as /etc/hosts and /etc/services would,
// and records what it was asked.
type fakeNames struct{ asked []string }

func (f *fakeNames) LookupHost(name string) (netip.Addr, error) {
	f.asked = append(f.asked, name)
	if name == "lb.example.com" {
		return mustAddr("198.18.1.100"), nil
	}
	return netip.Addr{}, errors.New("no such host")
}

func (f *fakeNames) LookupPort(name string, p Proto) (uint16, error) {
	f.asked = append(f.asked, name+"/"+p.String())
	switch {
	case name == "http" && p == TCP:
		return 80, nil
	case name == "domain":
		return 53, nil
	}
	return 0, errors.New("unknown port")
}

// TestParseArgsNames: with a Resolver, host and service names are accepted
// where ipvsadm accepts them (-t, -u, -r), a port name for the service's
// protocol whatever the order of -r and -t; a mistyped number is not sent
// to the resolver; without one, names are refused saying so.
func TestParseArgsNames(t *testing.T) {
	f := &fakeNames{}
	cmd, err := ParseArgsWith(strings.Fields("-a -r 10.0.0.1:domain -u lb.example.com:domain -m"), f)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.String(); got != "-a -u 198.18.1.100:53 -r 10.0.0.1:53 -m -w 1" {
		t.Errorf("got %q", got)
	}
	if got := strings.Join(f.asked, " "); got != "lb.example.com domain/udp domain/udp" {
		t.Errorf("asked %q", got)
	}
	for _, tt := range []struct{ args, want string }{
		{"-A -t lb.example.com:https", `service name "https": unknown port (a tcp port name from /etc/services, or a number)`},
		{"-A -t nosuch.example.com:80", `host name "nosuch.example.com": no such host`},
		{"-A -t 198.18.1.300:80", `"198.18.1.300" is not a numeric IP address`},
		{"-A -t 198.18.1.100:8o8o", `service name "8o8o"`},
	} {
		f.asked = nil
		_, err := ParseArgsWith(strings.Fields(tt.args), f)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want %q", tt.args, err, tt.want)
		}
		if strings.Contains(tt.args, "300") && len(f.asked) > 0 {
			t.Errorf("%s: a mistyped address was looked up as a name: %q", tt.args, f.asked)
		}
	}
	if _, err := ParseArgs(strings.Fields("-A -t lb.example.com:80")); err == nil || !strings.Contains(err.Error(), "host names are not resolved") {
		t.Errorf("ParseArgs with a host name: %v", err)
	}
}
