package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fngw/test/harness"
)

// End-to-end tests of live reconfiguration over the FULLNAT
// topology of fullnat_test.go, one worker: established transfers and
// concurrent requests go on while services, destinations, weights,
// schedulers and local addresses change, through the CLI and through the
// TOML file (gw reload, SIGHUP).

// rcServices are the services the gateway of TestReconfigDuringDownload
// starts with (from its configuration file): the HTTP service VIP:80 over
// rs1 and rs2 (rr) with both local addresses. Each call returns a new copy,
// for the test to change.
func rcServices() []harness.Service {
	return []harness.Service{{Proto: "tcp", VIP: fnHTTP, Sched: "rr",
		Laddrs: []harness.LocalAddr{{Addr: fnLIP1, Port: "dpdk1"}, {Addr: fnLIP2, Port: "dpdk1"}},
		Dests: []harness.Dest{
			{Addr: fnRS1 + ":80", Fwd: "fullnat", Weight: 1},
			{Addr: fnRS2 + ":80", Fwd: "fullnat", Weight: 1},
		}}}
}

// rcSave is `gw adm -S -n` for rcServices, with the weight of rs2 and extra lines.
func rcSave(w2 int, extra ...string) string {
	return "-A -t 198.18.1.100:80 -s rr\n" +
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat -w 1\n" +
		fmt.Sprintf("-a -t 198.18.1.100:80 -r 198.18.2.12:80 --fullnat -w %d\n", w2) +
		"-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1\n" +
		"-P -t 198.18.1.100:80 -z 198.18.2.101 -F dpdk1\n" +
		strings.Join(extra, "")
}

// TestReconfigDuringDownload: a 50 MB download through VIP:80 (from the TOML
// file), throttled by the client to ~12 s, runs while HTTP requests to VIP:80
// keep coming (batches of 20, new connection each) and the gateway is
// reconfigured, in this order:
//
//   - the CLI adds service VIP:8081 (wlc) over two more HTTP servers
//     (rs1b, rs2b on port 8080) with its own local address, which answers;
//   - a third destination (rs1b) is added to VIP:80 and gets requests, then
//     is deleted again; a destination of VIP:8081 is deleted;
//   - weights of VIP:80 and VIP:8081 change; VIP:80's scheduler is edited
//     to wrr, then wlc;
//   - a local address nothing uses is added to VIP:8081 and deleted;
//   - the TOML file gains service VIP:8082 and `gw reload` applies that
//     change alone: -S -n is then the running configuration plus VIP:8082
//     (VIP:8081 and the CLI's edits of VIP:80 stay), and VIP:8082 answers;
//   - the file changes again (VIP:8082 gone, rs2's weight 2, as the CLI
//     already set it) and SIGHUP applies it: VIP:8082 is gone, the rest
//     is as the CLI left it.
//
// The download is still running after the last change (checked), then
// completes byte-identical (sha256); every request of the background load
// succeeded; no packet was dropped for a reason that means lost traffic.
//
// concurrent_clients then starts 20 gw clients at once against the same
// gateway, with the background load running: 8 `-L -n`, 4 `-A` of new
// services, 4 `-a` and 4 `-d` of destinations of VIP:8090. All exit 0, every
// listing is a whole listing, and -S -n afterwards is exactly the expected
// configuration.
func TestReconfigDuringDownload(t *testing.T) {
	tp := startFullNAT(t, fnOpts{cfg: harness.Config{Services: rcServices()}})
	tp.spawnServer(t, 0, "rs1b", fnRS1+":8080")
	tp.spawnServer(t, 1, "rs2b", fnRS2+":8080")
	base := tp.g.Config
	save := func() string { return tp.adm(t, "-S", "-n") }
	if got := save(); got != rcSave(1) {
		t.Fatalf("services from the file: got\n%s\nwant\n%s", got, rcSave(1))
	}
	// writeFile makes the configuration file the starting one with
	// services instead of rcServices.
	writeFile := func(t *testing.T, services []harness.Service) {
		t.Helper()
		c := base
		c.Services = services
		if err := tp.g.WriteConfig(c); err != nil {
			t.Fatal(err)
		}
	}
	const (
		svc2 = fnVIP + ":8081"
		svc3 = fnVIP + ":8082"
		rs1b = fnRS1 + ":8080"
		rs2b = fnRS2 + ":8080"
		lip3 = "198.18.2.102"
		lip4 = "198.18.2.103"
	)

	t.Run("during_download", func(t *testing.T) {
		const size, rate = 50 << 20, 4 << 20 // ~12 s
		dl := tp.startDownload(t, fnHTTP, "reconfig.bin", size, rate, 150*time.Second)
		dl.waitStarted(t, 1<<20)
		load := tp.startLoad(t, scURL, 20, 2)
		start := time.Now()
		// Each change is followed by a pause, so that the changes are
		// spread over the download and requests of the background load
		// run under each configuration.
		const pause = 500 * time.Millisecond
		step := func(what string, cmds ...[]string) {
			t.Helper()
			for _, c := range cmds {
				tp.adm(t, c...)
			}
			t.Logf("%5.2fs %s", time.Since(start).Seconds(), what)
			time.Sleep(pause)
		}

		step("add service "+svc2,
			[]string{"-A", "-t", svc2, "-s", "wlc"},
			[]string{"-a", "-t", svc2, "-r", rs1b, "--fullnat", "-w", "1"},
			[]string{"-a", "-t", svc2, "-r", rs2b, "--fullnat", "-w", "2"},
			[]string{"--add-laddr", "-z", lip3, "-t", svc2, "-F", "dpdk1"})
		if rep := tp.get(t, "http://"+svc2+"/", 10, 2); rep.ByServer["rs1b"]+rep.ByServer["rs2b"] != 10 {
			t.Errorf("%s answered by %v, want rs1b and rs2b only", svc2, rep.ByServer)
		}

		step("add destination "+rs1b+" to "+fnHTTP,
			[]string{"-a", "-t", fnHTTP, "-r", rs1b, "--fullnat", "-w", "1"})
		if rep := tp.get(t, scURL, 12, 2); rep.ByServer["rs1b"] == 0 {
			t.Errorf("after adding %s to %s, 12 requests were answered by %v: none by rs1b", rs1b, fnHTTP, rep.ByServer)
		}
		step("delete destinations "+rs1b+" of "+fnHTTP+" and "+rs2b+" of "+svc2,
			[]string{"-d", "-t", fnHTTP, "-r", rs1b},
			[]string{"-d", "-t", svc2, "-r", rs2b})

		step("change weights",
			[]string{"-e", "-t", fnHTTP, "-r", scRS1, "--fullnat", "-w", "3"},
			[]string{"-e", "-t", fnHTTP, "-r", scRS2, "--fullnat", "-w", "2"},
			[]string{"-e", "-t", svc2, "-r", rs1b, "--fullnat", "-w", "5"})
		step("edit the scheduler of "+fnHTTP+" to wrr",
			[]string{"-E", "-t", fnHTTP, "-s", "wrr"})
		tp.get(t, scURL, 10, 2)
		step("edit the scheduler of "+fnHTTP+" to wlc", []string{"-E", "-t", fnHTTP, "-s", "wlc"})

		step("add local address "+lip4+" (unused) to "+svc2,
			[]string{"--add-laddr", "-z", lip4, "-t", svc2, "-F", "dpdk1"})
		if out := tp.adm(t, "-G", "-t", svc2); !strings.Contains(out, lip4) {
			t.Errorf("gw adm -G -t %s does not list %s:\n%s", svc2, lip4, out)
		}
		step("delete local address "+lip4+" of "+svc2, []string{"--del-laddr", "-z", lip4, "-t", svc2})
		dl.mustBeRunning(t, "after the CLI changes")

		// The file gains a service; gw reload applies that change alone
		// (the CLI changes above stay).
		runtime := save()
		writeFile(t, append(rcServices(), harness.Service{Proto: "tcp", VIP: svc3, Sched: "rr",
			Laddrs: []harness.LocalAddr{{Addr: lip3, Port: "dpdk1"}},
			Dests:  []harness.Dest{{Addr: rs2b, Fwd: "fullnat"}}}))
		out := tp.g.MustCmd("reload")
		t.Logf("%5.2fs gw reload: %s", time.Since(start).Seconds(), strings.TrimSpace(out))
		if !strings.Contains(out, "3 changes applied\n+ service tcp 198.18.1.100:8082 rr\n") {
			t.Errorf("gw reload said %q", out)
		}
		time.Sleep(pause)
		want := runtime + "-A -t 198.18.1.100:8082 -s rr\n" +
			"-a -t 198.18.1.100:8082 -r 198.18.2.12:8080 --fullnat -w 1\n" +
			"-P -t 198.18.1.100:8082 -z 198.18.2.102 -F dpdk1\n"
		if got := save(); got != want {
			t.Errorf("after gw reload, -S -n is\n%s\nwant the running configuration and the file's new service\n%s", got, want)
		}
		if rep := tp.get(t, "http://"+svc3+"/", 6, 2); rep.ByServer["rs2b"] != 6 {
			t.Errorf("%s (added by reload) answered by %v, want rs2b", svc3, rep.ByServer)
		}

		// Another change to the file, applied by SIGHUP.
		services := rcServices()
		services[0].Dests[1].Weight = 2 // rs2
		writeFile(t, services)
		if err := syscall.Kill(tp.g.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 10*time.Second, "the SIGHUP reload", func() error {
			if got := save(); got != runtime {
				return fmt.Errorf("-S -n is\n%s\nwant\n%s", got, runtime)
			}
			return nil
		})
		t.Logf("%5.2fs SIGHUP applied", time.Since(start).Seconds())
		tp.get(t, scURL, 10, 2)
		dl.mustBeRunning(t, "after the last reconfiguration")

		load.finish(t)
		dl.wait(t)
		checkNoBadDrops(t, tp.cores(t))
	})

	t.Run("concurrent_clients", func(t *testing.T) {
		const svc = fnVIP + ":8090"
		before := save()
		tp.adm(t, "-A", "-t", svc, "-s", "rr")
		for k := range 4 {
			tp.adm(t, "-a", "-t", svc, "-r", fmt.Sprintf("198.18.2.%d:80", 60+k), "--fullnat", "-w", "1")
		}
		load := tp.startLoad(t, scURL, 20, 2)

		var cmds [][]string
		for range 8 {
			cmds = append(cmds, []string{"-L", "-n"})
		}
		for k := range 4 {
			cmds = append(cmds,
				[]string{"-A", "-t", fmt.Sprintf("%s:%d", fnVIP, 9000+k), "-s", "wlc"},
				[]string{"-a", "-t", svc, "-r", fmt.Sprintf("198.18.2.%d:80", 70+k), "--fullnat", "-w", fmt.Sprint(k + 2)},
				[]string{"-d", "-t", svc, "-r", fmt.Sprintf("198.18.2.%d:80", 60+k)})
		}
		outs := make([]string, len(cmds))
		errs := make([]error, len(cmds))
		var ready, wg sync.WaitGroup
		gate := make(chan struct{})
		ready.Add(len(cmds))
		t0 := time.Now()
		for i, c := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-gate // all at once
				outs[i], errs[i] = tp.g.Cmd(append([]string{"adm"}, c...)...)
			}()
		}
		ready.Wait()
		close(gate)
		wg.Wait()
		t.Logf("%d concurrent gw adm clients done in %v", len(cmds), time.Since(t0).Round(time.Millisecond))
		for i, c := range cmds {
			if errs[i] != nil {
				t.Errorf("gw adm %s: %v", strings.Join(c, " "), errs[i])
				continue
			}
			// VIP:80 is wlc: the CLI's edit, which the reloads left alone.
			if c[0] == "-L" && (!strings.HasPrefix(outs[i], "IP Virtual Server version 1.2.1 (size=") ||
				!strings.Contains(outs[i], "TCP  "+fnHTTP+" wlc\n") || !strings.Contains(outs[i], "TCP  "+svc+" rr\n")) {
				t.Errorf("gw adm -L -n (concurrent) printed an incomplete listing:\n%s", outs[i])
			}
		}
		// Services are saved in the order they were added, which the
		// concurrent -A commands leave open; destinations sorted.
		head := before + "-A -t " + svc + " -s rr\n"
		for k := range 4 {
			head += fmt.Sprintf("-a -t %s -r 198.18.2.%d:80 --fullnat -w %d\n", svc, 70+k, k+2)
		}
		var tail string
		for k := range 4 {
			tail += fmt.Sprintf("-A -t %s:%d -s wlc\n", fnVIP, 9000+k)
		}
		got := save()
		if !strings.HasPrefix(got, head) || !rcSameLines(got[len(head):], tail) {
			t.Errorf("after the concurrent clients, -S -n is\n%s\nwant\n%s%s(the last 4 services in any order)", got, head, tail)
		}
		load.finish(t)
	})
}

// rcSameLines reports whether a and b hold the same lines, in any order.
func rcSameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// TestReconfigDeleteDestination: deleting a destination stops new
// connections to it at once while its established sessions keep forwarding
// until they end — LVS with expire_nodest_conn=0, as the README states. A
// 50 MB download throttled to ~10 s runs; its destination (from
// `gw adm -L -n -c`) is deleted with `gw adm -d`: -L -n no longer lists it,
// -L -n -c still lists the download's session to it, ESTABLISHED; 40 new
// connections all reach the other server (the deleted one accepts none);
// the download, still running after all that, completes byte-identical.
// Added back, the destination gets new connections again.
func TestReconfigDeleteDestination(t *testing.T) {
	tp := startFullNAT(t, fnOpts{})
	tp.addHTTPService(t, 1, 1, "-s", "rr")

	const size, rate = 50 << 20, 5 << 20 // ~10 s
	dl := tp.startDownload(t, fnHTTP, "nodest.bin", size, rate, 120*time.Second)
	dl.waitStarted(t, 1<<20)
	gone := tp.sessionDest(t, fnHTTP)
	other := scOther(gone)
	t.Logf("the download goes to %s; deleting it", gone)
	srv0 := tp.serverConns(t, "rs1", "rs2")

	tp.adm(t, "-d", "-t", fnHTTP, "-r", gone)
	if _, ds := tp.service(t, fnHTTP); len(ds) != 1 || ds[other].Dest.Weight != 1 {
		t.Errorf("after -d %s, -L -n lists %v; want %s only", gone, ds, other)
	}
	if d := tp.sessionDest(t, fnHTTP); d != gone {
		t.Errorf("-L -n -c: the download's session goes to %s, want %s (deleted, still forwarding)", d, gone)
	}
	rep := tp.get(t, scURL, 40, 4)
	srv := lbDiff(srv0, tp.serverConns(t, "rs1", "rs2"))
	if srv[scName[gone]] != 0 || rep.ByServer[scName[gone]] != 0 || srv[scName[other]] != 40 {
		t.Errorf("after deleting %s: 40 new connections accepted %v, answered %v; want all by %s", gone, srv, rep.ByServer, scName[other])
	}
	dl.mustBeRunning(t, "after deleting its destination and 40 new connections")
	dl.wait(t)

	tp.adm(t, "-a", "-t", fnHTTP, "-r", gone, "--fullnat", "-w", "1")
	srv0 = tp.serverConns(t, "rs1", "rs2")
	tp.get(t, scURL, 20, 2)
	if srv = lbDiff(srv0, tp.serverConns(t, "rs1", "rs2")); srv["rs1"] != 10 || srv["rs2"] != 10 {
		t.Errorf("%s added back: 20 new connections split %v, want 10:10 (rr)", gone, srv)
	}
	checkNoBadDrops(t, tp.cores(t))
}

// TestReconfigTimeouts: the timeouts the datapath uses follow the running
// configuration through every path that changes it, and only through a
// change that is applied.
//
//   - restore: `ipvsadm -R` of "--set 7 2 2" (a line -S writes when timeouts
//     differ from the defaults): -L --timeout shows 7 2 2 and a new idle
//     connection's session expires in at most 7 s (-L -n -c), not 900;
//   - refused reload: a file setting [session] tcp_timeout = 11 but with a
//     service the datapath refuses (a VIP that is also a local address) is
//     refused by gw reload, and neither -L --timeout nor the datapath takes 11.
func TestReconfigTimeouts(t *testing.T) {
	tp := startFullNAT(t, fnOpts{})
	tp.addHTTPService(t, 1, 1, "-s", "rr")
	timeouts := func() [3]uint32 {
		t.Helper()
		var to struct {
			Timeouts struct{ TCP, TCPFin, UDP uint32 } `json:"timeouts"`
		}
		if err := tp.g.JSON(&to, "adm", "-L", "--timeout"); err != nil {
			t.Fatal(err)
		}
		return [3]uint32{to.Timeouts.TCP, to.Timeouts.TCPFin, to.Timeouts.UDP}
	}
	// idleExpires opens an idle connection and returns its session's
	// seconds left right after its last packet.
	idleExpires := func() int {
		t.Helper()
		_, local := tp.holdConn(t, "idle")
		for _, c := range tp.conns(t) {
			if c.Client == local {
				return c.Expires
			}
		}
		t.Fatalf("no session of %s in -L -n -c", local)
		return 0
	}

	t.Run("restore", func(t *testing.T) {
		cmd := exec.Command(harness.Binary(t), "adm", "-R")
		cmd.Env = append(os.Environ(), "FNGW_SOCK="+tp.g.Config.Socket)
		cmd.Stdin = strings.NewReader("--set 7 2 2\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gw adm -R: %v: %s", err, out)
		}
		if got := timeouts(); got != [3]uint32{7, 2, 2} {
			t.Errorf("after restoring --set 7 2 2, -L --timeout says %v", got)
		}
		if e := idleExpires(); e > 7 {
			t.Errorf("after restoring --set 7 2 2, an idle connection's session expires in %d s, want at most 7", e)
		}
	})

	t.Run("refused_reload", func(t *testing.T) {
		before := timeouts()
		base := tp.g.Config
		bad := base
		bad.Session.TCPTimeout = 11
		bad.Services = append(slices.Clone(base.Services), harness.Service{Proto: "tcp", VIP: fnVIP + ":81",
			Laddrs: []harness.LocalAddr{{Addr: fnVIP, Port: "dpdk0"}}})
		if err := tp.g.WriteConfig(bad); err != nil {
			t.Fatal(err)
		}
		defer tp.g.WriteConfig(base)
		if out, err := tp.g.Cmd("reload"); err == nil {
			t.Fatalf("gw reload of a file whose VIP is also a local address succeeded: %s", out)
		} else {
			t.Logf("gw reload refused: %v", err)
		}
		if got := timeouts(); got != before {
			t.Errorf("a refused reload changed -L --timeout from %v to %v", before, got)
		}
		if e := idleExpires(); e > int(before[0]) || e < int(before[0])-2 {
			t.Errorf("after a refused reload of tcp_timeout 11, an idle connection's session expires in %d s, want %d (the running setting)", e, before[0])
		}
	})
}
