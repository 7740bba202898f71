package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fngw/test/harness"
)

// The kernel path over the FULLNAT topology of fullnat_test.go, both ports
// with a kernel interface in the gateway's namespace (kgw0 on the client
// side, kgw1 on the server side): the host's sockets on the data ports,
// addresses and routes kept in sync both ways.

// hostServer runs an e2epeer HTTP server in the gateway's own namespace,
// on the host's kernel stack, at addr.
func (tp *fnTopo) hostServer(t *testing.T, addr string) {
	t.Helper()
	ready := filepath.Join(tp.dir, "host.ready")
	tp.spawn(t, tp.g.Netns, "host", "serve", "-name", "host", "-http", addr,
		"-dir", filepath.Join(tp.dir, "www"), "-ready", ready)
	harness.Eventually(t, 10*time.Second, "the host's server listening", func() error {
		if !fileExists(ready) {
			return fmt.Errorf("no %s", ready)
		}
		return nil
	})
}

// kernelAddr waits until the gateway's interface address pfx is on the
// kernel interface iface of the gateway's namespace.
func (tp *fnTopo) kernelAddr(t *testing.T, iface, pfx string) {
	t.Helper()
	harness.Eventually(t, 5*time.Second, pfx+" on "+iface, func() error {
		out, err := tp.g.Netns.IP("-4", "addr", "show", "dev", iface)
		if err != nil || !strings.Contains(out, "inet "+pfx) {
			return fmt.Errorf("ip addr show %s: %s %v", iface, out, err)
		}
		return nil
	})
}

// TestKernelPathHostTraffic: the host's sockets on the data ports. From the
// client, 100 HTTP requests and an 8 MB download to a server of the
// gateway's namespace on the port's address (198.18.1.1, which the gateway
// put on kgw0) succeed, byte-identical, while the FULLNAT service on the
// same port forwards 100 requests unharmed; from the gateway's namespace, a
// request reaches a real server through the server-side port (how health
// checks reach them), and so do a ping and a datagram to a closed port,
// whose ICMP answers come back to the host.
// udpRefused sends a datagram from a connected UDP socket to port 9 of
// argv[1] and prints "refused" when the ICMP port unreachable arrives.
const udpRefused = `import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 9))
s.send(b"x")
try:
    s.recv(1)
    print("answered", end="")
except ConnectionRefusedError:
    print("refused", end="")
except socket.timeout:
    print("no answer", end="")
`

func TestKernelPathHostTraffic(t *testing.T) {
	tp := startFullNAT(t, fnOpts{kernel: true})
	tp.addFullNATServices(t, "rr")
	tp.kernelAddr(t, "kgw0", "198.18.1.1/24")
	tp.kernelAddr(t, "kgw1", "198.18.2.1/24")
	tp.hostServer(t, "198.18.1.1:8000")

	dl := tp.startDownload(t, "198.18.1.1:8000", "host.bin", 8<<20, 2<<20, time.Minute)
	dl.waitStarted(t, 64<<10)
	tp.get(t, "http://198.18.1.1:8000/", 100, 4)
	tp.get(t, "http://"+fnHTTP+"/", 100, 4)
	dl.mustBeRunning(t, "after the requests")
	dl.wait(t)

	out, err := tp.g.Netns.Run("curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://"+fnRS1+"/")
	if err != nil || out != "200" {
		t.Errorf("curl from the gateway's namespace to %s: %q %v", fnRS1, out, err)
	}
	// ICMP back to the host: echo replies to its ping, and the port
	// unreachable its UDP socket gets from a closed port.
	if out, err := tp.g.Netns.Run("ping", "-c", "2", "-i", "0.2", "-W", "2", fnRS1); err != nil {
		t.Errorf("ping %s from the gateway's namespace: %v\n%s", fnRS1, err, out)
	}
	if out, err := tp.g.Netns.Run("python3", "-c", udpRefused, fnRS1); err != nil || out != "refused" {
		t.Errorf("UDP to a closed port of %s from the gateway's namespace: %q %v, want refused (ICMP port unreachable)", fnRS1, out, err)
	}
	var links []struct {
		Name   string `json:"name"`
		Kernel *struct {
			Dev      string `json:"dev"`
			Backend  string `json:"backend"`
			ToKernel uint64 `json:"to_kernel_packets"`
			FromKern uint64 `json:"from_kernel_packets"`
		} `json:"kernel"`
	}
	tp.g.MustJSON(&links, "link", "show", "-s", "--json")
	for _, l := range links {
		if l.Kernel == nil || l.Kernel.ToKernel == 0 || l.Kernel.FromKern == 0 || l.Kernel.Backend != "net_tap" {
			t.Errorf("port %s: kernel path %+v, want net_tap with traffic both ways", l.Name, l.Kernel)
		}
	}
}

// TestKernelAddressesOwned: an address added on a kernel interface by
// anything else becomes the gateway's (answered in ARP from the port's MAC
// within a second) and stops being it when removed; with vip_arp =
// "kernel", a VIP is answered only while it is on the kernel interface (as
// keepalived puts it on the master), and its service forwards then.
func TestKernelAddressesOwned(t *testing.T) {
	tp := startFullNAT(t, fnOpts{kernel: true, vipARP: "kernel"})
	tp.addFullNATServices(t, "rr")
	tp.kernelAddr(t, "kgw0", "198.18.1.1/24")
	link := tp.clientLink(t)
	answered := func(addr string) bool {
		out, err := tp.client.Run("arping", "-b", "-c", "1", "-w", "1", "-I", link, addr)
		return err == nil && strings.Contains(out, "reply from")
	}
	check := func(what, addr string, want bool) {
		t.Helper()
		if !want {
			// The removal reaches the gateway within the sync's window
			// (tens of ms); an ARP request sent at once may still beat it.
			time.Sleep(200 * time.Millisecond)
		}
		if got := answered(addr); got != want {
			t.Errorf("%s: ARP for %s answered %v, want %v\n%s", what, addr, got, want, tp.g.MustCmd("ip", "addr", "show"))
		}
	}
	check("before", "198.18.1.77", false)
	tp.g.Netns.MustIP("addr", "add", "198.18.1.77/32", "dev", "kgw0")
	check("added on kgw0", "198.18.1.77", true)
	if out := tp.g.MustCmd("ip", "addr", "show"); !strings.Contains(out, "198.18.1.77/32 dev dpdk0 proto kernel") {
		t.Errorf("gw ip addr show does not say where 198.18.1.77 came from:\n%s", out)
	}
	tp.g.Netns.MustIP("addr", "del", "198.18.1.77/32", "dev", "kgw0")
	check("deleted from kgw0", "198.18.1.77", false)

	check("vip_arp kernel, VIP not on kgw0", fnVIP, false)
	tp.g.Netns.MustIP("addr", "add", fnVIP+"/32", "dev", "kgw0")
	check("VIP added on kgw0", fnVIP, true)
	tp.get(t, "http://"+fnHTTP+"/", 20, 2)
	tp.g.Netns.MustIP("addr", "del", fnVIP+"/32", "dev", "kgw0")
	check("VIP deleted from kgw0", fnVIP, false)
}

// TestKernelRouteUsed: a static multipath route added in the kernel on a
// kernel interface is used by the datapath, with its next hops — a FULLNAT
// real server in a subnet reachable only through it answers, always through
// the same next hop — and, deleted there, leaves the gateway's route table.
func TestKernelRouteUsed(t *testing.T) {
	tp := startFullNAT(t, fnOpts{kernel: true})
	tp.kernelAddr(t, "kgw1", "198.18.2.1/24")
	const far = "198.18.9.11"
	tp.rs[0].MustIP("addr", "add", far+"/32", "dev", "lo")
	tp.spawnServer(t, 0, "rs9", far+":80")
	svc := fnVIP + ":81"
	for _, c := range [][]string{
		{"-A", "-t", svc, "-s", "rr"},
		{"-a", "-t", svc, "-r", far + ":80", "--fullnat"},
		{"--add-laddr", "-z", fnLIP1, "-t", svc, "-F", "dpdk1"},
	} {
		tp.g.MustCmd(append([]string{"adm"}, c...)...)
	}
	tp.rs[1].MustIP("addr", "add", far+"/32", "dev", "lo")
	tp.spawnServer(t, 1, "rs9b", far+":80")
	tp.g.Netns.MustIP("route", "add", "198.18.9.0/24", "nexthop", "via", fnRS1, "dev", "kgw1", "nexthop", "via", fnRS2, "dev", "kgw1")
	want := "198.18.9.0/24 via " + fnRS1 + " dev dpdk1 proto learned nexthop via " + fnRS2 + " dev dpdk1"
	harness.Eventually(t, time.Second, "the kernel's route in the gateway", func() error {
		if out := tp.g.MustCmd("ip", "route", "show"); !strings.Contains(out, want) {
			return fmt.Errorf("gw ip route show:\n%s", out)
		}
		return nil
	})
	if rep := tp.get(t, "http://"+svc+"/", 20, 2); rep.ByServer["rs9"] != 20 && rep.ByServer["rs9b"] != 20 {
		t.Errorf("through the learned multipath route: answers %v, want all from one next hop (one real server, one path)", rep.ByServer)
	}
	tp.g.Netns.MustIP("route", "del", "198.18.9.0/24")
	harness.Eventually(t, time.Second, "the route gone from the gateway", func() error {
		if out := tp.g.MustCmd("ip", "route", "show"); strings.Contains(out, "198.18.9.0/24") {
			return fmt.Errorf("gw ip route show:\n%s", out)
		}
		return nil
	})
}
