package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fngw/test/harness"
)

// Health checks over the FULLNAT topology of fullnat_test.go, both ports
// with a kernel interface: the checks are the host's sockets, reaching the
// real servers through kgw1. Each real server runs, beside its service on
// :80, a health endpoint on :8081 (e2epeer serve), which a test stops and
// starts again: the service's own server, and the transfers it carries,
// stay up.

const fnHealthPort = "8081"

// checkJSON is one destination of `gw check show --json`.
type checkJSON struct {
	Service struct {
		Proto string `json:"proto"`
		VIP   string `json:"vip"`
		Port  int    `json:"port"`
	} `json:"service"`
	Dest        string `json:"destination"`
	Sorry       bool   `json:"sorry_server"`
	Check       string `json:"check"`
	Target      string `json:"target"`
	OnFailure   string `json:"on_failure"`
	State       string `json:"state"`
	Since       string `json:"since"`
	Transitions int    `json:"transitions"`
	Checks      int    `json:"checks"`
	Reason      string `json:"reason"`
	Weight      int    `json:"weight"`
	Effective   int    `json:"effective_weight"`
}

// checks is `gw check show --json` of service port svcPort, by destination.
func (tp *fnTopo) checks(t *testing.T, svcPort int) map[string]checkJSON {
	t.Helper()
	var list []checkJSON
	tp.g.MustJSON(&list, "check", "show")
	m := map[string]checkJSON{}
	for _, c := range list {
		if c.Service.Port == svcPort {
			m[c.Dest] = c
		}
	}
	return m
}

// healthServer starts real server i's health endpoint (an HTTP server on
// RIP:8081) and waits until it listens.
func (tp *fnTopo) healthServer(t *testing.T, i int, label string) *exec.Cmd {
	t.Helper()
	addr := []string{fnRS1, fnRS2}[i]
	ready := filepath.Join(tp.dir, label+".ready")
	os.Remove(ready)
	cmd := tp.spawn(t, tp.rs[i], label, "serve", "-name", label, "-http", addr+":"+fnHealthPort,
		"-dir", filepath.Join(tp.dir, "www"), "-ready", ready)
	harness.Eventually(t, 10*time.Second, label+" listening", func() error {
		if !fileExists(ready) {
			return fmt.Errorf("no %s", ready)
		}
		return nil
	})
	return cmd
}

// listedWeights is `gw adm -L -n`'s destinations of TCP service svc with
// the weight listed, "198.18.2.11:80 1", in listing order.
func (tp *fnTopo) listedWeights(t *testing.T, svc string) string {
	t.Helper()
	out := tp.g.MustCmd("adm", "-L", "-n", "-t", svc)
	var ds []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			ds = append(ds, f[1]+" "+f[3])
		}
	}
	return strings.Join(ds, ", ")
}

// waitListed waits until `gw adm -L -n` lists svc's destinations as want.
func (tp *fnTopo) waitListed(t *testing.T, within time.Duration, svc, want string) {
	t.Helper()
	harness.Eventually(t, within, "gw adm -L -n: "+want, func() error {
		if got := tp.listedWeights(t, svc); got != want {
			return fmt.Errorf("listed %q\n%s", got, tp.g.MustCmd("check", "show"))
		}
		return nil
	})
}

const httpCheck = `[service.check]
type = "http"
port = 8081
path = "/"
interval = "1s"
timeout = "1s"
fall = 2
rise = 2
on_failure = "inhibit"
`

// TestCheckHTTPInhibit: an http check (interval 1s, fall 2, rise 2,
// inhibit) on both real servers. The download's real server's health
// endpoint stops: within 4 s ipvsadm -L shows it with weight 0 and gw
// check show says why; 100 new requests all go to the other; the download
// it carried goes on to its end (inhibit keeps connections). Its endpoint
// back, it is back at its weight within 4 s and takes requests again.
func TestCheckHTTPInhibit(t *testing.T) {
	cfg := harness.Config{Services: []harness.Service{{
		Proto: "tcp", VIP: fnHTTP, Sched: "rr",
		Laddrs: []harness.LocalAddr{{Addr: fnLIP1, Port: "dpdk1"}, {Addr: fnLIP2, Port: "dpdk1"}},
		Raw:    httpCheck,
		Dests:  []harness.Dest{{Addr: fnRS1 + ":80", Fwd: "fullnat"}, {Addr: fnRS2 + ":80", Fwd: "fullnat"}},
	}}}
	tp := startFullNAT(t, fnOpts{cfg: cfg, kernel: true})
	health := [2]*exec.Cmd{tp.healthServer(t, 0, "rs1h"), tp.healthServer(t, 1, "rs2h")}
	harness.Eventually(t, 10*time.Second, "both real servers checked up", func() error {
		for d, c := range tp.checks(t, 80) {
			if c.State != "up" || c.Checks == 0 || c.Reason != "ok" {
				return fmt.Errorf("%s: %+v", d, c)
			}
		}
		return nil
	})

	dl := tp.startDownload(t, fnHTTP, "big.bin", 12<<20, 1500<<10, time.Minute)
	dl.waitStarted(t, 64<<10)
	victim := tp.sessionDest(t, fnHTTP) // "RIP:80"
	i, other := 0, fnRS2+":80"
	if victim == fnRS2+":80" {
		i, other = 1, fnRS1+":80"
	}
	names := []string{"rs1", "rs2"}
	t.Logf("the download goes to %s; stopping its health endpoint", victim)

	stopped := time.Now()
	health[i].Process.Kill()
	health[i].Wait()
	want := map[bool]string{true: fnRS1 + ":80 1, " + fnRS2 + ":80 0", false: fnRS1 + ":80 0, " + fnRS2 + ":80 1"}[i == 1]
	tp.waitListed(t, 4*time.Second, fnHTTP, want)
	t.Logf("weight 0 after %v", time.Since(stopped).Round(time.Millisecond))
	c := tp.checks(t, 80)[victim]
	if c.State != "down" || c.Reason != "connect refused" || c.Weight != 1 || c.Effective != 0 || c.Transitions != 1 || c.OnFailure != "inhibit" {
		t.Errorf("gw check show for %s: %+v", victim, c)
	}
	if out := tp.g.MustCmd("check", "show"); !strings.Contains(out, "connect refused") {
		t.Errorf("gw check show does not say why:\n%s", out)
	}
	rep := tp.get(t, "http://"+fnHTTP+"/", 100, 4)
	if rep.ByServer[names[1-i]] != 100 {
		t.Errorf("with %s down, the 100 requests went to %v; want all on %s", victim, rep.ByServer, other)
	}
	dl.mustBeRunning(t, "after the requests")

	restarted := time.Now()
	tp.healthServer(t, i, names[i]+"h2")
	tp.waitListed(t, 4*time.Second, fnHTTP, fnRS1+":80 1, "+fnRS2+":80 1")
	t.Logf("back at its weight after %v", time.Since(restarted).Round(time.Millisecond))
	if c := tp.checks(t, 80)[victim]; c.State != "up" || c.Transitions != 2 {
		t.Errorf("gw check show for %s after its return: %+v", victim, c)
	}
	rep = tp.get(t, "http://"+fnHTTP+"/", 20, 2)
	if rep.ByServer[names[i]] == 0 {
		t.Errorf("%s back, but it answered none of 20 requests: %v", victim, rep.ByServer)
	}
	dl.wait(t) // byte-identical, through the whole episode
}

// TestCheckKinds: on one gateway, a tcp check with on_failure = "remove"
// and a quorum of 2 with a sorry server (one real server down: withdrawn,
// and the sorry server takes every new connection until it is back), a
// udp check of a UDP service (an echo server answers: up; a closed port
// answers ICMP port unreachable: down, weight 0, every datagram to rs1),
// a misc check per destination (a script's exit status) with remove, and a
// reload of an unchanged file that keeps every state.
func TestCheckKinds(t *testing.T) {
	down := filepath.Join(harness.TempDir(t, "chk"), "rs2.down")
	const tcpSvc, miscSvc, udpSvc, udpPort = fnVIP + ":81", fnVIP + ":82", fnVIP + ":83", "9083"
	laddrs := []harness.LocalAddr{{Addr: fnLIP1, Port: "dpdk1"}, {Addr: fnLIP2, Port: "dpdk1"}}
	misc := func(name string) string {
		return "[service.dest.check]\ntype = \"misc\"\ninterval = \"500ms\"\ntimeout = \"2s\"\nfall = 1\nrise = 1\non_failure = \"remove\"\n" +
			"command = \"/bin/sh -c 'test ! -e " + filepath.Join(filepath.Dir(down), name+".down") + "'\"\n"
	}
	cfg := harness.Config{Services: []harness.Service{{
		Proto: "tcp", VIP: tcpSvc, Sched: "rr", Laddrs: laddrs,
		Raw: "quorum = 2\nsorry_server = \"" + fnRS1 + ":8082\"\n" +
			"[service.check]\ntype = \"tcp\"\nport = 8081\ninterval = \"500ms\"\ntimeout = \"500ms\"\nfall = 1\nrise = 1\non_failure = \"remove\"\n",
		Dests: []harness.Dest{{Addr: fnRS1 + ":80", Fwd: "fullnat"}, {Addr: fnRS2 + ":80", Fwd: "fullnat"}},
	}, {
		Proto: "tcp", VIP: miscSvc, Sched: "rr", Laddrs: laddrs,
		Dests: []harness.Dest{{Addr: fnRS1 + ":80", Fwd: "fullnat", Raw: misc("rs1")}, {Addr: fnRS2 + ":80", Fwd: "fullnat", Raw: misc("rs2")}},
	}, {
		Proto: "udp", VIP: udpSvc, Sched: "rr", Laddrs: laddrs,
		// payload and expect: "ping", hex. Checked every second: a Linux
		// real server sends a peer at most one ICMP error a second
		// (icmp_ratelimit).
		Raw:   "[service.check]\ntype = \"udp\"\npayload = \"70696e67\"\nexpect = \"70696e67\"\ninterval = \"1s\"\ntimeout = \"500ms\"\nfall = 1\nrise = 1\non_failure = \"inhibit\"\n",
		Dests: []harness.Dest{{Addr: fnRS1 + ":" + udpPort, Fwd: "fullnat"}, {Addr: fnRS2 + ":" + udpPort, Fwd: "fullnat"}},
	}}}
	tp := startFullNAT(t, fnOpts{cfg: cfg, kernel: true})
	tp.healthServer(t, 0, "rs1h")
	rs2h := tp.healthServer(t, 1, "rs2h")
	// The sorry server: another e2epeer on rs1, answering as "sorry".
	ready := filepath.Join(tp.dir, "sorry.ready")
	tp.spawn(t, tp.rs[0], "sorry", "serve", "-name", "sorry", "-http", fnRS1+":8082", "-dir", filepath.Join(tp.dir, "www"), "-ready", ready)
	both := fnRS1 + ":80 1, " + fnRS2 + ":80 1"
	tp.waitListed(t, 5*time.Second, tcpSvc, both)
	tp.waitListed(t, 5*time.Second, miscSvc, both)

	t.Run("tcp_remove_quorum_sorry", func(t *testing.T) {
		rs2h.Process.Kill()
		rs2h.Wait()
		// rs2 withdrawn (remove); weight up 1 < quorum 2: the sorry server
		// is added and rs1 gets weight 0.
		tp.waitListed(t, 4*time.Second, tcpSvc, fnRS1+":80 0, "+fnRS1+":8082 1")
		if c := tp.checks(t, 81); c[fnRS2+":80"].State != "down" || c[fnRS1+":8082"].State != "up" || !c[fnRS1+":8082"].Sorry {
			t.Errorf("gw check show: %+v", c)
		}
		if rep := tp.get(t, "http://"+tcpSvc+"/", 20, 2); rep.ByServer["sorry"] != 20 {
			t.Errorf("quorum lost: answers %v, want all from the sorry server", rep.ByServer)
		}
		tp.healthServer(t, 1, "rs2h2")
		tp.waitListed(t, 4*time.Second, tcpSvc, both)
		if rep := tp.get(t, "http://"+tcpSvc+"/", 20, 2); rep.ByServer["sorry"] != 0 || rep.ByServer["rs1"] == 0 || rep.ByServer["rs2"] == 0 {
			t.Errorf("quorum back: answers %v, want rs1 and rs2", rep.ByServer)
		}
	})

	t.Run("udp_echo_and_port_unreachable", func(t *testing.T) {
		echo := func(i int) {
			addr, name := []string{fnRS1, fnRS2}[i], fmt.Sprintf("rs%du", i+1)
			ready := filepath.Join(tp.dir, name+".ready")
			tp.spawn(t, tp.rs[i], name, "serve", "-name", name, "-http", addr+":8083", "-udp", addr+":"+udpPort, "-ready", ready)
			harness.Eventually(t, 10*time.Second, name+" listening", func() error {
				if !fileExists(ready) {
					return fmt.Errorf("no %s", ready)
				}
				return nil
			})
		}
		states := func(want1, want2 string, w1, w2 int) {
			t.Helper()
			harness.Eventually(t, 4*time.Second, "udp checks "+want1+" and "+want2, func() error {
				c := tp.checks(t, 83)
				r1, r2 := c[fnRS1+":"+udpPort], c[fnRS2+":"+udpPort]
				if r1.State != want1 || r2.State != want2 || r1.Effective != w1 || r2.Effective != w2 {
					return fmt.Errorf("gw check show: %+v", c)
				}
				return nil
			})
		}
		echo(0)
		// rs2 has nothing on the port: its kernel answers ICMP port
		// unreachable, which comes back through the kernel path.
		states("up", "down", 1, 0)
		if r := tp.checks(t, 83)[fnRS2+":"+udpPort].Reason; r != "port unreachable" {
			t.Errorf("rs2's udp check failed with %q, want port unreachable", r)
		}
		out := tp.g.MustCmd("adm", "-L", "-n", "-u", udpSvc)
		if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
			return slices.Equal(strings.Fields(l), []string{"->", fnRS2 + ":" + udpPort, "FullNat", "0", "0", "0"})
		}) {
			t.Errorf("gw adm -L -n -u %s: rs2 not listed with weight 0:\n%s", udpSvc, out)
		}
		// Only rs1 echoes: a flow sent to rs2 would get no answer.
		var rep udpReport
		tp.peerRun(t, tp.client, 30*time.Second, &rep, "udp", "-addr", udpSvc, "-flows", "20", "-n", "5")
		if rep.Sent != 100 || rep.Echoed != 100 {
			t.Errorf("rs2 down: %d of %d datagrams echoed, want every one (by rs1); errors %v", rep.Echoed, rep.Sent, rep.Errors)
		}
		echo(1)
		states("up", "up", 1, 1)
	})

	t.Run("misc_remove", func(t *testing.T) {
		if err := os.WriteFile(down, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tp.waitListed(t, 4*time.Second, miscSvc, fnRS1+":80 1")
		c := tp.checks(t, 82)[fnRS2+":80"]
		if c.State != "down" || !strings.HasPrefix(c.Reason, "exit status 1") || c.OnFailure != "remove" {
			t.Errorf("gw check show for the misc check: %+v", c)
		}
		if rep := tp.get(t, "http://"+miscSvc+"/", 20, 2); rep.ByServer["rs1"] != 20 {
			t.Errorf("rs2 removed: answers %v, want all from rs1", rep.ByServer)
		}
	})

	t.Run("reload_keeps_states", func(t *testing.T) {
		before := tp.checks(t, 82)
		out := tp.g.MustCmd("reload")
		if !strings.Contains(out, "0 changes applied") {
			t.Errorf("gw reload of the unchanged file:\n%s", out)
		}
		after := tp.checks(t, 82)
		for d, b := range before {
			a := after[d]
			if a.State != b.State || a.Transitions != b.Transitions || a.Since != b.Since {
				t.Errorf("%s: before the reload %+v, after %+v", d, b, a)
			}
		}
		tp.waitListed(t, time.Second, miscSvc, fnRS1+":80 1")
		os.Remove(down)
		tp.waitListed(t, 4*time.Second, miscSvc, both)
	})
}
