package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"fngw/ctl"
)

// The example from the design brief, as tools outside generate it.
const brief = `[eal]
lcores = "0-1"         # first lcore = control, the rest = workers
memory_mb = 512
hugepages = false
file_prefix = "gw"
args = []
[[port]]
name = "dpdk0"
device = "net_tap0,iface=gw0"    # vdev string or PCI address
queues = 1
addrs = ["198.18.1.1/24"]
[[route]]
prefix = "0.0.0.0/0"
via = "198.18.1.254"
port = "dpdk0"
[ctl]
socket = "/run/fngw/gw.sock"
metrics = "127.0.0.1:9180"
`

func TestBriefExample(t *testing.T) {
	f, err := Parse("gw.toml", []byte(brief))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gw", "-l", "0-1", "--main-lcore", "0", "--no-huge", "-m", "512", "--file-prefix", "gw", "--vdev", "net_tap0,iface=gw0", "--no-pci"}
	if got := f.EALArgs("gw"); !reflect.DeepEqual(got, want) {
		t.Errorf("EAL args %q", got)
	}
	if len(f.Workers) != 1 || f.Workers[0].Lcore != 1 || !reflect.DeepEqual(f.Workers[0].Rx, []PortQueue{{"dpdk0", 0}}) {
		t.Errorf("workers %+v", f.Workers)
	}
	p := f.Ports[0]
	if p.Queues != 1 || p.RxDesc != 1024 || p.TxDesc != 1024 || p.MTU != 1500 || p.PCI || p.DeviceName() != "net_tap0" {
		t.Errorf("port %+v", p)
	}
	if len(f.LB.Routes) != 1 || f.LB.Routes[0].String() != "0.0.0.0/0 via 198.18.1.254 dev dpdk0" || len(f.LB.Addrs) != 1 {
		t.Errorf("stack %+v", f.LB)
	}
	if f.Ctl.Socket != "/run/fngw/gw.sock" || f.Ctl.Metrics != "127.0.0.1:9180" || f.Log.Level != "info" || f.IdleSleepUS != 0 {
		t.Errorf("defaults %+v %+v", f.Ctl, f.Log)
	}
	if f.LB.Timeouts != ctl.DefaultTimeouts || f.Session.CapacityPerCore != 1<<20 {
		t.Errorf("session %+v %+v", f.Session, f.LB.Timeouts)
	}
	if f.Pool.Mbufs < 1024+1024 || (f.Pool.Mbufs+1)&f.Pool.Mbufs != 0 {
		t.Errorf("mbufs %d", f.Pool.Mbufs)
	}
}

const full = `idle_sleep_us = 50
idle_polls = 128

[eal]
lcores = "2,0-1"
memory_mb = 1024
hugepages = true
file_prefix = "gw-a"
args = ["--log-level=lib.eal:debug"]

[log]
level = "debug"

[[port]]
name = "dpdk0"
device = "0000:01:00.0"
queues = 2
addrs = ["198.18.1.1/24", "198.18.3.1/24"]
rx_desc = 2048
tx_desc = 512
mtu = 9000
mac = "02:00:00:00:00:01"
promiscuous = true

[[port]]
name = "dpdk1"
device = "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"
queues = 2
addrs = ["10.0.0.254/24"]

[[worker]]
lcore = 0
rx = ["dpdk0:1", "dpdk1:0"]

[[worker]]
lcore = 1
rx = ["dpdk0:0", "dpdk1:1"]

[[route]]
prefix = "0.0.0.0/0"
via = "198.18.1.254"

[[route]]
prefix = "172.16.0.0/12"
port = "dpdk1"

[[neigh]]
addr = "198.18.1.254"
mac = "02:00:00:00:00:fe"
port = "dpdk0"

[ctl]
socket = "/run/fngw/a.sock"
metrics = ""

[session]
capacity_per_core = 65536
tcp_timeout = 600
udp_timeout = 60
lblc_expiration = 600

[pool]
mbufs = 65535
cache_size = 128

[[service]]
proto = "tcp"
vip = "198.18.1.100:80"
sched = "sh"
flags = ["sh-port"]
persistent = 600
netmask = "255.255.255.0"
laddrs = ["198.18.1.10", "198.18.3.10 dev dpdk0"]

[[service.dest]]
addr = "10.0.0.1:8080"
fwd = "fullnat"
weight = 3
u_threshold = 100
l_threshold = 10

[[service.dest]]
addr = "10.0.0.2"
fwd = "route"
weight = 0

[[service]]
proto = "udp"
vip = "198.18.1.100:53"
ops = true

[[service.dest]]
addr = "10.0.0.3"
fwd = "masq"
`

func TestFull(t *testing.T) {
	f, err := Parse("gw.toml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gw", "-l", "2,0-1", "--main-lcore", "2", "-m", "1024", "--file-prefix", "gw-a", "-a", "0000:01:00.0", "--vdev", "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", "--log-level=lib.eal:debug"}
	if got := f.EALArgs("gw"); !reflect.DeepEqual(got, want) {
		t.Errorf("EAL args %q", got)
	}
	if f.ControlLcore() != 2 || !reflect.DeepEqual(f.EAL.Lcores, []int{2, 0, 1}) {
		t.Errorf("lcores %v", f.EAL.Lcores)
	}
	wantW := []Worker{{0, []PortQueue{{"dpdk0", 1}, {"dpdk1", 0}}}, {1, []PortQueue{{"dpdk0", 0}, {"dpdk1", 1}}}}
	if !reflect.DeepEqual(f.Workers, wantW) {
		t.Errorf("workers %+v", f.Workers)
	}
	p, _ := f.Port("dpdk0")
	if !p.PCI || p.MAC != (ctl.MAC{2, 0, 0, 0, 0, 1}) || p.MTU != 9000 || p.RxDesc != 2048 || !p.Promiscuous || len(p.Addrs) != 2 {
		t.Errorf("port %+v", p)
	}
	if f.Ctl.Metrics != "" || f.Log.Level != "debug" || f.IdleSleepUS != 50 || f.IdlePolls != 128 || f.Pool.Mbufs != 65535 || f.Pool.CacheSize != 128 {
		t.Errorf("settings %+v %+v", f.Ctl, f.Pool)
	}
	if f.LB.Timeouts != (ctl.Timeouts{TCP: 600, TCPFin: 120, UDP: 60, SynRecv: 60, UDPOneway: 5}) {
		t.Errorf("timeouts %v", f.LB.Timeouts)
	}
	if x, y := f.LB.Sysctl.Expiration("lblc_expiration"), f.LB.Sysctl.Expiration("lblcr_expiration"); x != 600 || y != 86400 {
		t.Errorf("lblc_expiration %d, lblcr_expiration %d; want 600 and the default 86400", x, y)
	}
	var save strings.Builder
	if err := ctl.WriteSave(&save, f.LB); err != nil {
		t.Fatal(err)
	}
	wantSave := `--set 600 120 60
-A -t 198.18.1.100:80 -s sh -p 600 -M 255.255.255.0 -b sh-port
-a -t 198.18.1.100:80 -r 10.0.0.1:8080 --fullnat -w 3 -x 100 -y 10
-a -t 198.18.1.100:80 -r 10.0.0.2:80 -g -w 0
-P -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0
-P -t 198.18.1.100:80 -z 198.18.3.10 -F dpdk0
-A -u 198.18.1.100:53 -s wlc -o
-a -u 198.18.1.100:53 -r 10.0.0.3:53 -m -w 1
`
	if save.String() != wantSave {
		t.Errorf("services:\n%s\nwant:\n%s", save.String(), wantSave)
	}
	routes := []string{}
	for _, r := range f.LB.Routes {
		routes = append(routes, r.String())
	}
	if !reflect.DeepEqual(routes, []string{"0.0.0.0/0 via 198.18.1.254 dev dpdk0", "172.16.0.0/12 dev dpdk1"}) {
		t.Errorf("routes %q", routes)
	}
	if len(f.LB.Neighs) != 1 || f.LB.Neighs[0].MAC != (ctl.MAC{2, 0, 0, 0, 0, 0xfe}) {
		t.Errorf("neighs %+v", f.LB.Neighs)
	}
}

// TestErrors: each bad file reports every problem, each with its line,
// key and the offending value.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string // "LINE: text" of each error, in order
	}{
		{"syntax", "[eal\nlcores = 1\n", []string{"2: expected '.' or ']' to end table name"}},
		{"type", "[eal]\nlcores = \"0-1\"\nmemory_mb = \"lots\"\n", []string{`3: eal.memory_mb: an integer, not the string "lots"`, "port: no [[port]]"}},
		{"types beside other problems", brief + "[[service]]\nproto = \"tcp\"\nvip = \"198.18.1.100:80\"\npersistent = \"yes\"\n[[service.dest]]\naddr = \"10.0.0.1\"\nfwd = \"warp\"\nweight = \"3\"\n",
			[]string{`22: service[0].persistent: an integer, not the string "yes"`, `25: service[0].dest[0].fwd: unknown forwarding mode "warp"`, `26: service[0].dest[0].weight: an integer, not the string "3"`}},
		{"unknown keys", brief + "speed = 10\n[[port]]\nname = \"dpdk1\"\ndevice = \"net_tap1\"\nqueues = 1\nnme = \"x\"\n[bogus]\na = 1\nb = 2\n",
			[]string{`19: ctl.speed: unknown key "speed"; accepted here: socket, metrics`, `24: port[1].nme: unknown key "nme"; accepted here: name, device`, `25: bogus: unknown key "bogus"`}},
		{"unknown dest key", brief + "[[service]]\nproto = \"tcp\"\nvip = \"198.18.1.100:80\"\n[[service.dest]]\naddr = \"10.0.0.1\"\nfwd = \"masq\"\n[[service.dest]]\naddr = \"10.0.0.2\"\nfwd = \"masq\"\nwieght = 2\n",
			[]string{`28: service[0].dest[1].wieght: unknown key "wieght"; accepted here: addr, fwd, weight`}},
		{"eal", `[eal]
lcores = "3-1,x"
memory_mb = 8
file_prefix = "a b"
args = ["-l", "--vdev=net_null0", ""]
[log]
level = "loud"
[[port]]
name = "dpdk0"
device = "net_tap0"
`, []string{`2: eal.lcores: range "3-1" goes backwards`, `3: eal.memory_mb: 8 out of range`, `4: eal.file_prefix: "a b"`,
			`5: eal.args[0]: "-l" is generated from eal.lcores`, `5: eal.args[1]: "--vdev=net_null0" is generated from port.device`, `5: eal.args[2]: empty argument`, `7: log.level: "loud" is not a log level`}},
		{"lcores", "[eal]\nlcores = \"0\"\n[[port]]\nname = \"p\"\ndevice = \"net_tap0\"\n", []string{`2: eal.lcores: "0" has one lcore`}},
		{"lcores backwards", "[eal]\nlcores = \"3-1\"\n", []string{`2: eal.lcores: range "3-1" goes backwards; write 1-3`, `port: no [[port]]`}},
		{"lcores twice", "[eal]\nlcores = \"0-2,1\"\n", []string{"2: eal.lcores: lcore 1 listed twice", "port: no [[port]]"}},
		{"lcores max", "[eal]\nlcores = \"0,200\"\n", []string{"2: eal.lcores: lcore 200 above the maximum 127", "port"}},
		{"no lcores", "[[port]]\nname = \"p\"\ndevice = \"net_tap0\"\n", []string{"eal.lcores: missing"}},
		{"ports", `[eal]
lcores = "0-1"
[[port]]
name = "1dpdk"
device = "tap"
queues = 0
rx_desc = 1000
tx_desc = 32768
mtu = 20000
mac = "01:00:5e:00:00:01"
addrs = ["198.18.1.0/24", "198.18.1.300/24", "2001:db8::1/64", "198.18.1.1"]
[[port]]
name = "dpdk1"
device = "0000:01:00.0"
addrs = ["198.18.1.1/24", "198.18.1.2/16"]
[[port]]
name = "dpdk1"
device = "0000:01:00.0,x=1"
mac = "02:00:00:00:00"
`, []string{`4: port[0].name: port name "1dpdk"`, `5: port[0].device: "tap" is neither a PCI address`, `6: port[0].queues: 0 out of range 1-64`,
			`7: port[0].rx_desc: 1000 must be a power of two`, `8: port[0].tx_desc: 32768 must be a power of two`, `9: port[0].mtu: 20000 out of range`,
			`10: port[0].mac: 01:00:5e:00:00:01 is not a unicast address`, `11: port[0].addrs[0]: address 198.18.1.0/24 is the network address`,
			`11: port[0].addrs[1]: "198.18.1.300/24" is not an address with prefix length`, `11: port[0].addrs[2]: 2001:db8::1: IPv6 is not served yet`,
			`11: port[0].addrs[3]: "198.18.1.1" is not an address with prefix length`,
			`17: port[2].name: port "dpdk1" is defined twice`, `18: port[2].device: device "0000:01:00.0" is already used by port "dpdk1"`, `19: port[2].mac: MAC address "02:00:00:00:00"`,
		}},
		{"overlap", brief + "[[port]]\nname = \"dpdk1\"\ndevice = \"net_tap1\"\naddrs = [\"198.18.1.7/16\", \"198.18.1.1/32\"]\n",
			[]string{"22: port[1].addrs[0]: 198.18.1.7/16 overlaps 198.18.1.1/24 on port dpdk0", "22: port[1].addrs[1]: 198.18.1.1/32 overlaps 198.18.1.1/24 on port dpdk0", "22: port[1].addrs[1]: address 198.18.1.1 already exists on port dpdk0"}},
		{"queues vs workers", "[eal]\nlcores = \"0-2\"\n[[port]]\nname = \"dpdk0\"\ndevice = \"net_tap0\"\nqueues = 1\n",
			[]string{"6: port[0].queues: port dpdk0 has 1 queue(s) but eal.lcores has 2 worker lcore(s)"}},
		{"workers", `[eal]
lcores = "0-3"
[[port]]
name = "dpdk0"
device = "net_tap0"
queues = 3
[[worker]]
lcore = 0
rx = ["dpdk0:0"]
[[worker]]
lcore = 1
rx = ["dpdk0:0", "dpdk9:0", "dpdk0:7", "dpdk0"]
[[worker]]
lcore = 1
rx = []
[[worker]]
lcore = 9
rx = ["dpdk0:1"]
[[worker]]
rx = ["dpdk0:2"]
`, []string{`8: worker[0].lcore: lcore 0 is the control lcore`,
			`12: worker[1].rx[0]: "dpdk0:0" is already polled by worker[0]`, `12: worker[1].rx[1]: "dpdk9:0": no port named "dpdk9"`,
			`12: worker[1].rx[2]: "dpdk0:7": port dpdk0 has 3 queue(s)`, `12: worker[1].rx[3]: "dpdk0": want PORT:QUEUE`,
			`14: worker[2].lcore: lcore 1 has two [[worker]] sections`, `15: worker[2].rx: missing`, `17: worker[3].lcore: lcore 9 is not in eal.lcores "0-3"`,
			`19: worker[4].lcore: missing`, `19: worker: lcore 2 is in eal.lcores but has no [[worker]] section`, `19: worker: lcore 3 is in eal.lcores but has no [[worker]] section`}},
		{"routes and neighs", brief + `[[route]]
prefix = "10.1.0.1/16"
port = "dpdk0"
[[route]]
prefix = "10.2.0.0/16"
via = "192.0.2.1"
[[route]]
prefix = "10.3.0.0/16"
[[route]]
prefix = "10.4.0.0/16"
via = "198.18.1.9"
port = "dpdk7"
[[route]]
prefix = "0.0.0.0/0"
via = "198.18.1.253"
[[neigh]]
addr = "192.0.2.1"
mac = "02:00:00:00:00:01"
port = "dpdk0"
[[neigh]]
addr = "198.18.1.9"
mac = "ff:ff:ff:ff:ff:ff"
port = "dpdk0"
[[neigh]]
addr = "198.18.1.9"
mac = "02:00:00:00:00:01"
port = "dpdk3"
`, []string{`20: route[1].prefix: 10.1.0.1/16 has host bits set; did you mean 10.1.0.0/16?`, `24: route[2].via: gateway 192.0.2.1 is on no port's subnet`,
			`25: route[3].port: missing`, `30: route[4].port: no port named "dpdk7"`, `31: route[5]: route 0.0.0.0/0 already exists`,
			`35: neigh[0].addr: 192.0.2.1 is not on a subnet of port dpdk0`, `38: neigh[1]: neighbour 198.18.1.9: ff:ff:ff:ff:ff:ff is not a unicast MAC`,
			`45: neigh[2].port: no port named "dpdk3"`}},
		{"kernel path", brief + `[[port]]
name = "dpdk1"
device = "net_tap1"
kernel_iface = "much-too-long-name0"
vip_arp = "always"
[[port]]
name = "dpdk2"
device = "net_tap2"
kernel_iface = "kgw0"
[[port]]
name = "dpdk3"
device = "net_tap3"
kernel_iface = "kgw0"
[[port]]
name = "dpdk4"
device = "net_tap4"
kernel_iface = "k gw"
vip_arp = "kernel"
[[port]]
name = "dpdk5"
device = "net_tap5"
vip_arp = "kernel"
`, []string{`22: port[1].kernel_iface: "much-too-long-name0" is not an interface name: 1 to 15 letters`, `23: port[1].vip_arp: "always": use "service"`,
			`31: port[3].kernel_iface: "kgw0" is already the kernel interface of port "dpdk2"`, `35: port[4].kernel_iface: "k gw" is not an interface name`,
			`40: port[5].vip_arp: "kernel" needs kernel_iface`}},
		{"ctl session pool", `idle_sleep_us = -1
idle_polls = 0
[eal]
lcores = "0-1"
[[port]]
name = "dpdk0"
device = "net_tap0"
[ctl]
socket = "gw.sock"
metrics = "localhost"
[session]
capacity_per_core = 1000
tcp_timeout = 0
udp_timeout = 9999999
[pool]
mbufs = 100
cache_size = 1000
`, []string{`1: idle_sleep_us: -1 out of range`, `2: idle_polls: 0 must be at least 1`, `9: ctl.socket: "gw.sock" must be an absolute file path`,
			`10: ctl.metrics: "localhost": want IP:PORT`, `12: session.capacity_per_core: 1000 must be a power of two`, `13: session.tcp_timeout: 0 out of range`,
			`14: session.udp_timeout: 9999999 out of range`, `16: pool.mbufs: 100 is too few`, `17: pool.cache_size: 1000 out of range 0-512`}},
		{"services", brief + `[[service]]
proto = "sctp"
vip = "198.18.1.100"
[[service]]
proto = "tcp"
vip = "198.18.1.100:80"
sched = "fastest"
[[service]]
proto = "tcp"
vip = "198.18.1.100:81"
sched = "rr"
flags = ["sh-port"]
[[service]]
proto = "tcp"
vip = "198.18.1.100:0"
netmask = "255.255.255.0"
[[service]]
proto = "tcp"
vip = "198.18.1.100:82"
persistent = 60
netmask = "255.0.255.0"
[[service]]
proto = "udp"
vip = "[2001:db8::1]:53"
[[service]]
proto = "tcp"
vip = "198.18.1.100:83"
laddrs = ["198.18.1.10 dev dpdk9", "192.0.2.10", "nope", "198.18.1.11"]
[[service.dest]]
addr = "10.0.0.1:8080"
fwd = "route"
[[service.dest]]
addr = "10.0.0.1:x"
fwd = "masq"
[[service.dest]]
addr = "10.0.0.2"
[[service.dest]]
addr = "10.0.0.3"
fwd = "warp"
[[service.dest]]
addr = "10.0.0.4"
fwd = "masq"
weight = 70000
[[service.dest]]
addr = "10.0.0.5"
fwd = "masq"
u_threshold = 5
l_threshold = 6
[[service.dest]]
addr = "10.0.0.6"
fwd = "fullnat"
[[service.dest]]
addr = "10.0.0.6"
fwd = "fullnat"
[[service]]
proto = "tcp"
vip = "198.18.1.100:84"
[[service.dest]]
addr = "10.0.0.6"
fwd = "fullnat"
`, []string{`20: service[0].proto: unknown protocol "sctp"`, `21: service[0].vip: "198.18.1.100": want ADDR:PORT`,
			`25: service[1].sched: service 198.18.1.100:80/tcp: unknown scheduler "fastest"`,
			`30: service[2].flags: service 198.18.1.100:81/tcp: scheduler flag "sh-port" needs scheduler sh, not rr`,
			`34: service[3].netmask: "255.255.255.0" given without persistent`,
			`39: service[4].netmask: netmask "255.0.255.0" is not contiguous`,
			`42: service[5].vip: 2001:db8::1: IPv6 is not served yet`,
			`46: service[6].laddrs[0]: "198.18.1.10 dev dpdk9": no port named "dpdk9"`,
			`46: service[6].laddrs[2]: "nope": want ADDR or "ADDR dev PORT"`,
			`47: service[6].dest[0]: service 198.18.1.100:83/tcp: real server 10.0.0.1:8080: route forwarding keeps the service port 83`,
			`51: service[6].dest[1].addr: "10.0.0.1:x": want ADDR or ADDR:PORT`,
			`53: service[6].dest[2].fwd: missing`,
			`57: service[6].dest[3].fwd: unknown forwarding mode "warp"`,
			`58: service[6].dest[4]: service 198.18.1.100:83/tcp: real server 10.0.0.4:83: weight 70000 out of range`,
			`62: service[6].dest[5]: service 198.18.1.100:83/tcp: real server 10.0.0.5:83: lower threshold 6 is higher than upper threshold 5`,
			`70: service[6].dest[7]: service 198.18.1.100:83/tcp: real server 10.0.0.6:83 already exists`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("gw.toml", []byte(tt.toml))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %v is not Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, strings.TrimPrefix(e.Error(), "gw.toml:"))
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range min(len(got), len(tt.want)) {
				if !strings.HasPrefix(got[i], tt.want[i]) && !(tt.want[i] != "" && strings.HasPrefix(strings.TrimPrefix(es[i].Error(), "gw.toml: "), tt.want[i])) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseLcores(t *testing.T) {
	for in, want := range map[string][]int{"0-1": {0, 1}, "3,0-2": {3, 0, 1, 2}, "5": {5}, "0-0,7": {0, 7}} {
		if got, err := ParseLcores(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "a", "1-", "-1", "2-1", "0,0", "0-128", "1,,2", "1@", "@1", "1@x", "1@200", "0,0@1"} {
		if _, err := ParseLcores(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	ids, cpus, err := ParseLcoreCPUs("0,1@1,2@1")
	if err != nil || !reflect.DeepEqual(ids, []int{0, 1, 2}) || !reflect.DeepEqual(cpus, map[int]int{1: 1, 2: 1}) {
		t.Errorf("0,1@1,2@1: %v %v %v", ids, cpus, err)
	}
}

// TestLcoresOnSharedCPU: two workers may share a CPU (LCORE@CPU); the EAL gets
// --lcores and each worker's CPU is the one written.
func TestLcoresOnSharedCPU(t *testing.T) {
	f, err := Parse("t", []byte("[eal]\nlcores = \"0,1@1,2@1\"\n[[port]]\nname = \"p\"\ndevice = \"net_null0\"\nqueues = 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Workers) != 2 || f.CPU(f.Workers[0].Lcore) != 1 || f.CPU(f.Workers[1].Lcore) != 1 || f.CPU(0) != 0 {
		t.Fatalf("workers %+v", f.Workers)
	}
	args := strings.Join(f.EALArgs("gw"), " ")
	if !strings.Contains(args, "--lcores 0@0,1@1,2@1 --main-lcore 0") {
		t.Fatalf("EAL args %q", args)
	}
}

// TestReloadMerge: a reload of a file whose one service and one
// destination changed makes exactly those two changes.
func TestReloadMerge(t *testing.T) {
	a, err := Parse("a", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b", []byte(strings.Replace(strings.Replace(full, "weight = 3", "weight = 5", 1), `sched = "sh"`+"\nflags = [\"sh-port\"]", `sched = "rr"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	got, changes, err := ctl.Merge(a.LB, b.LB, a.LB)
	if err != nil || len(changes) != 2 || !got.Equal(b.LB) {
		t.Fatalf("merge: %v, changes %v", err, changes)
	}
}

func TestPositionIndex(t *testing.T) {
	p := buildIndex(`a = 1
s = """
x = 2
"""
arr = [
  "y = 3",
  { z = 4 },
]
[t]  # comment
"q.k" = 5
[[u]]
v = 6
[[u]]
v = 7
[[u.w]]
k = 8
'w x'.y = 9
`)
	for path, line := range map[string]int{"a": 1, "s": 2, "arr": 5, "t": 9, "t.q.k": 10, "u[0]": 11, "u[0].v": 12, "u[1].v": 14, "u[1].w[0]": 15, "u[1].w[0].k": 16, "u[1].w[0].w x.y": 17, "u[1].w[0].k.deeper": 16, "x": 0, "arr.z": 5} {
		if got := p.lookup(path); got != line {
			t.Errorf("%s: line %d, want %d", path, got, line)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(brief)
	f.Add(full)
	f.Add("[eal]\nlcores = \"0-1\"\n[[port]]\nname = \"p\"\ndevice = \"net_tap0\"\n[[service]]\nproto = \"udp\"\nvip = \"1.2.3.4:53\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		file, err := Parse("fuzz.toml", []byte(s))
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v is not a non-empty Errors", err)
			}
			return
		}
		if len(file.EALArgs("gw")) < 5 || len(file.Workers) == 0 {
			t.Fatalf("accepted file without lcores or workers")
		}
		for _, w := range file.Workers {
			for _, rx := range w.Rx {
				if p, ok := file.Port(rx.Port); !ok || rx.Queue >= p.Queues {
					t.Fatalf("worker polls a missing queue %v", rx)
				}
			}
		}
		_ = netip.Addr{}
	})
}

// TestMbufsSizedForMTU: the mbuf data room holds a whole frame at the
// largest port MTU (the datapath does not chain mbufs), and a pool the EAL
// memory cannot hold is refused naming memory_mb and what it would take.
func TestMbufsSizedForMTU(t *testing.T) {
	for _, c := range []struct{ mtu, room int }{{1500, 2048}, {68, 2048}, {2026, 2048}, {2027, 2176}, {9000, 9088}, {MaxMTU, 9728}} {
		if got := DataRoomFor(c.mtu); got != c.room || got < c.mtu+22 {
			t.Errorf("DataRoomFor(%d) = %d, want %d", c.mtu, got, c.room)
		}
	}
	f, err := Parse("gw.toml", []byte(strings.Replace(brief, "queues = 1\n", "queues = 1\nmtu = 9000\n", 1)+"[pool]\nmbufs = 16383\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Pool.DataRoom != 9088 {
		t.Errorf("data room %d with a port at MTU 9000, want 9088", f.Pool.DataRoom)
	}
	_, err = Parse("gw.toml", []byte(strings.Replace(brief, "queues = 1\n", "queues = 1\nmtu = 9000\n", 1)+"[pool]\nmbufs = 65535\n"))
	if err == nil || !strings.Contains(err.Error(), "eal.memory_mb: 512 MiB cannot hold the mbuf pool: 65535 mbufs") {
		t.Errorf("a 600 MiB pool in 512 MiB: %v", err)
	}
}

// TestServiceProblemsAtOnce: proto defaults to tcp; a [[service]] with a bad
// VIP still has its destinations and local addresses checked, so that every
// problem is reported in one go.
func TestServiceProblemsAtOnce(t *testing.T) {
	f, err := Parse("gw.toml", []byte(brief+"[[service]]\nvip = \"198.18.1.100:80\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.LB.Services[0].Service; s.Proto != ctl.TCP {
		t.Errorf("proto left out: %v, want tcp", s.Proto)
	}
	_, err = Parse("gw.toml", []byte(brief+`[[service]]
vip = "nonsense"
laddrs = ["nope"]
[[service.dest]]
addr = "198.18.1.11:80"
fwd = "warp"
`))
	for _, want := range []string{"service[0].vip", "service[0].laddrs[0]", "service[0].dest[0].fwd"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %s reported in: %v", want, err)
		}
	}
}

// TestClientAddrOptions: proxy_protocol and toa in [[service]], and their
// refusals with their lines.
func TestClientAddrOptions(t *testing.T) {
	f, err := Parse("gw.toml", []byte(brief+`[[service]]
vip = "198.18.1.100:80"
proxy_protocol = "v2"
[[service.dest]]
addr = "198.18.2.11:8080"
fwd = "fullnat"
[[service]]
vip = "198.18.1.100:81"
toa = true
`))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.LB.Services[0].Service; s.ProxyProtocol != ctl.ProxyV2 || s.TOA {
		t.Errorf("service %s: proxy protocol %q, toa %v", s.Key(), s.ProxyProtocol, s.TOA)
	}
	if s := f.LB.Services[1].Service; s.ProxyProtocol != ctl.ProxyNone || !s.TOA {
		t.Errorf("service %s: proxy protocol %q, toa %v", s.Key(), s.ProxyProtocol, s.TOA)
	}

	_, err = Parse("gw.toml", []byte(brief+`[[service]]
vip = "198.18.1.100:80"
proxy_protocol = "v3"
[[service]]
vip = "198.18.1.100:81"
proxy_protocol = "v1"
toa = true
[[service]]
proto = "udp"
vip = "198.18.1.100:53"
toa = true
[[service]]
vip = "198.18.1.100:82"
proxy_protocol = "v1"
[[service.dest]]
addr = "198.18.2.11"
fwd = "route"
`))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []string{
		`21: service[0].proxy_protocol: unknown PROXY protocol version "v3"; use v1 or v2`,
		`25: service[1].toa: service 198.18.1.100:81/tcp: --proxy-protocol and --toa both carry the client's address; choose one`,
		`29: service[2].toa: service 198.18.1.100:53/udp: TOA is a TCP option`,
		`33: service[3].dest[0]: service 198.18.1.100:82/tcp: real server 198.18.2.11:82: the PROXY protocol (--proxy-protocol v1) needs fullnat (--fullnat) real servers, not route`,
	}
	if len(es) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(es), len(want), es)
	}
	for i, e := range es {
		if got := strings.TrimPrefix(e.Error(), "gw.toml:"); !strings.HasPrefix(got, want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, got, want[i])
		}
	}
}

// TestMarks: [[mark]] rules in file order and a fwmark service; each bad
// field is reported with its line.
func TestMarks(t *testing.T) {
	f, err := Parse("gw.toml", []byte(brief+`
[[service]]
fwmark = 5
sched = "rr"
persistent = 60
[[service.dest]]
addr = "10.0.0.1"
fwd = "masq"

[[mark]]
mark = 5
proto = "tcp"
dst = "198.18.0.0/24"
dport = "80-89"

[[mark]]
mark = 5
src = "10.0.0.0/8"
`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := ctl.WriteMarks(&b, f.LB.Marks, false); err != nil || b.String() != "mark 5 proto tcp dst 198.18.0.0/24 dport 80-89\nmark 5 src 10.0.0.0/8\n" {
		t.Errorf("marks %q", b.String())
	}
	if s := f.LB.Services[0].Service; s.FwMark != 5 || !s.Persistent || s.String() != "fwmark 5 rr persistent 60" {
		t.Errorf("service %v", s)
	}
	_, err = Parse("gw.toml", []byte(brief+`[[mark]]
mark = 0
[[mark]]
mark = 1
proto = "icmp"
[[mark]]
mark = 1
dport = "90-80"
[[service]]
fwmark = 3
vip = "198.18.1.1:80"
`))
	var es Errors
	if !errors.As(err, &es) || len(es) != 4 {
		// mark[1]'s prefix is not checked: its protocol is already wrong.
		t.Fatalf("%v", err)
	}
	n := strings.Count(brief, "\n") // the lines before the tested ones
	for i, want := range []string{
		fmt.Sprintf(`gw.toml:%d: mark[0].mark: 0 out of range`, n+2),
		fmt.Sprintf(`gw.toml:%d: mark[1].proto: unknown protocol "icmp"`, n+5),
		fmt.Sprintf(`gw.toml:%d: mark[2].dport: port range "90-80"`, n+8),
		fmt.Sprintf(`gw.toml:%d: service[0].fwmark: 3 given with vip "198.18.1.1:80"`, n+10),
	} {
		if !strings.HasPrefix(es[i].Error(), want) {
			t.Errorf("error %d: %s, want %s...", i, es[i], want)
		}
	}
}
