//go:build soak

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fngw/test/harness"
)

// TestSoak (make soak; build tag soak) runs the FULLNAT topology for
// FNGW_SOAK_DURATION (default 10m) under continuous traffic while the
// configuration keeps changing, then lets it drain:
//
//   - HTTP: batches of 200 GET requests, 4 at a time, a new connection
//     each, one batch after the other from the client;
//   - bulk: 64 MB downloads at 8 MB/s one after the other, each checked
//     byte for byte (sha256);
//   - UDP: echo exchanges (2 flows x 50 datagrams of 1200 bytes) every
//     second;
//   - every 15 s the next reconfiguration of a cycle an operator would do
//     with ipvsadm: weights up and down (0 quiesces), a third destination
//     added and deleted, the scheduler changed, a destination deleted and
//     added back, the UDP service's weights;
//   - every 15 s a sample of the gateway process's resident memory, its
//     mbufs in use, Go heap and goroutines, and the sessions.
//
// It asserts zero failed HTTP requests, every download byte-identical,
// every UDP datagram forwarded both ways (the UDP service's counters in and
// out agree with what the client sent; an echo later than e2epeer's 1 s,
// which a loaded shared machine produces, is logged, not failed), no drop
// that means lost traffic; after the
// load stops and the sessions time out (tcp 60 s, fin 10 s, udp 10 s,
// TIME_WAIT LVS's 120 s), the session table is empty, the mbufs in use are
// back to the idle baseline, resident memory is back within 10% of what it
// was after the first minute of load (the pool's and stack's pages touched
// once), and the goroutines are back to their idle count.
func TestSoak(t *testing.T) {
	dur := 10 * time.Minute
	if v := os.Getenv("FNGW_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			t.Fatalf("FNGW_SOAK_DURATION=%q: want a duration of at least 1m", v)
		}
		dur = d
	}
	tp := startFullNAT(t, fnOpts{})
	tp.spawnServer(t, 0, "rs1b", fnRS1+":8080")
	tp.addFullNATServices(t, "rr")
	tp.adm(t, "--set", "60", "10", "10")
	pid := tp.g.Pid()

	idle := tp.soakSample(t, pid)
	t.Logf("idle: %s", idle)

	load := tp.startLoad(t, "http://"+fnHTTP+"/", 200, 4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bulkOK, bulkBad, udpRuns int
	var udpIn, udpOut uint64
	var udpSent, udpEchoed int
	var problems, udpLate []string
	start := time.Now()
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf("at %.0fs: ", time.Since(start).Seconds())+fmt.Sprintf(format, args...))
		}
	}
	wg.Add(2)
	go func() { // bulk downloads, one after the other
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ok, err := tp.soakDownload(fmt.Sprintf("soak%d.bin", i%2), 64<<20, 8<<20)
			mu.Lock()
			if ok {
				bulkOK++
			} else {
				bulkBad++
			}
			mu.Unlock()
			if err != nil {
				problem("download %d: %v", i, err)
			}
		}
	}()
	go func() { // UDP echo exchanges
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var rep udpReport
			out, err := tp.client.Command(tp.peer, "udp", "-addr", fnUDP, "-flows", "2", "-n", "50", "-size", "1200").Output()
			if err == nil {
				err = json.Unmarshal(out, &rep)
			}
			mu.Lock()
			udpRuns++
			udpSent += rep.Sent
			udpEchoed += rep.Echoed
			mu.Unlock()
			switch {
			case err != nil:
				problem("udp exchange: %v", err)
			case rep.Echoed != rep.Sent:
				// An echo later than e2epeer's 1 s is read as the answer to
				// the next datagram ("bad"): late, not lost; whether the
				// gateway lost any is decided from its counters below.
				mu.Lock()
				udpLate = append(udpLate, fmt.Sprintf("at %.0fs: %d of %d echoed in time (%d late) %v",
					time.Since(start).Seconds(), rep.Echoed, rep.Sent, rep.Bad, rep.Errors))
				mu.Unlock()
			}
		}
	}()

	rs1b, rs2 := fnRS1+":8080", fnRS2+":80"
	steps := []struct {
		what string
		args [][]string
	}{
		{"rs2 weight 3", [][]string{{"-e", "-t", fnHTTP, "-r", rs2, "--fullnat", "-w", "3"}}},
		{"rs2 weight 0 (quiesced)", [][]string{{"-e", "-t", fnHTTP, "-r", rs2, "--fullnat", "-w", "0"}}},
		{"rs2 weight 1", [][]string{{"-e", "-t", fnHTTP, "-r", rs2, "--fullnat", "-w", "1"}}},
		{"add rs1b:8080", [][]string{{"-a", "-t", fnHTTP, "-r", rs1b, "--fullnat", "-w", "2"}}},
		{"scheduler wrr", [][]string{{"-E", "-t", fnHTTP, "-s", "wrr"}}},
		{"delete rs1b:8080", [][]string{{"-d", "-t", fnHTTP, "-r", rs1b}}},
		{"scheduler rr", [][]string{{"-E", "-t", fnHTTP, "-s", "rr"}}},
		{"delete rs2", [][]string{{"-d", "-t", fnHTTP, "-r", rs2}}},
		{"add rs2 back", [][]string{{"-a", "-t", fnHTTP, "-r", rs2, "--fullnat", "-w", "1"}}},
		{"udp weights 1:0", [][]string{{"-e", "-u", fnUDP, "-r", fnRS2 + ":" + fnUDPPort, "--fullnat", "-w", "0"}}},
		{"udp weights 1:1", [][]string{{"-e", "-u", fnUDP, "-r", fnRS2 + ":" + fnUDPPort, "--fullnat", "-w", "1"}}},
	}
	var warm soakSample
	var samples []soakSample
	for i := 0; time.Since(start) < dur; i++ {
		time.Sleep(min(15*time.Second, dur-time.Since(start)))
		s := tp.soakSample(t, pid)
		samples = append(samples, s)
		if warm.rss == 0 && time.Since(start) >= time.Minute {
			warm = s
		}
		st := steps[i%len(steps)]
		for _, a := range st.args {
			if out, err := tp.g.Cmd(append([]string{"adm"}, a...)...); err != nil {
				t.Errorf("reconfiguration %q: %v %s", st.what, err, out)
			}
		}
		load, _ := os.ReadFile("/proc/loadavg") // other jobs on the machine show here
		t.Logf("%5.0fs %s, loadavg %s; then: %s", time.Since(start).Seconds(), s, strings.Join(strings.Fields(string(load))[:3], " "), st.what)
	}
	close(stop)
	wg.Wait()
	rep := load.finish(t)
	mu.Lock()
	t.Logf("bulk: %d downloads of 64 MB byte-identical, %d not; udp: %d exchanges, %d of %d datagrams echoed",
		bulkOK, bulkBad, udpRuns, udpEchoed, udpSent)
	for _, p := range problems {
		t.Errorf("%s", p)
	}
	if bulkOK == 0 || bulkBad != 0 || udpSent == 0 {
		t.Errorf("bulk %d ok %d bad, udp %d sent: want every transfer whole", bulkOK, bulkBad, udpSent)
	}
	for _, l := range udpLate {
		t.Logf("udp exchange with late echoes %s", l)
	}
	mu.Unlock()
	// Every datagram to the UDP service went to a real server and every
	// echo came back through the gateway: its counters in and out agree.
	var ls struct {
		Services []struct {
			Service struct {
				Proto string `json:"proto"`
			} `json:"service"`
			Stats struct {
				InPkts  uint64 `json:"inpkts"`
				OutPkts uint64 `json:"outpkts"`
			} `json:"stats"`
		} `json:"services"`
	}
	tp.g.MustJSON(&ls, "adm", "-L", "-n", "--stats")
	for _, sv := range ls.Services {
		if strings.EqualFold(sv.Service.Proto, "udp") {
			udpIn, udpOut = sv.Stats.InPkts, sv.Stats.OutPkts
		}
	}
	if udpIn < uint64(udpSent) || udpOut != udpIn {
		t.Errorf("UDP service: %d datagrams in, %d out, %d sent by the client: want every one forwarded both ways", udpIn, udpOut, udpSent)
	}
	checkNoBadDrops(t, tp.cores(t))
	// Where a lost packet could have gone besides the datapath's drops:
	// the ports' receive counters and the kernel side of the taps.
	links, _ := tp.g.Cmd("link", "show", "-s")
	cl, _ := tp.client.Run("ip", "-s", "link")
	sw, _ := tp.sw.Run("ip", "-s", "link")
	tcpCounters := []string{"TcpRetransSegs", "TcpExtTCPTimeouts", "TcpAttemptFails", "TcpEstabResets", "TcpOutRsts",
		"TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPChallengeACK", "TcpExtPAWSEstab", "TcpExtTCPSynRetrans",
		"TcpExtTW", "TcpExtTCPTimeWaitOverflow", "UdpRcvbufErrors"}
	retr, _ := tp.client.Run("nstat", append([]string{"-az"}, tcpCounters...)...)
	for i, ns := range tp.rs {
		r, _ := ns.Run("nstat", append([]string{"-az"}, tcpCounters...)...)
		retr += fmt.Sprintf("rs%d:\n%s", i+1, r)
	}
	t.Logf("ports:\n%s\nclient links:\n%s\nswitch links:\n%s\nclient kernel:\n%s", links, cl, sw, retr)

	// Drain: every session times out, and what the traffic used comes back.
	drainStart := time.Now()
	var end soakSample
	harness.Eventually(t, 4*time.Minute, "the session table empty", func() error {
		end = tp.soakSample(t, pid)
		if end.sessions != 0 {
			return fmt.Errorf("%s", end)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // a few control-plane ticks after the last expiry
	end = tp.soakSample(t, pid)
	t.Logf("drained in %v: %s", time.Since(drainStart).Round(time.Second), end)
	if end.mbufsInUse > idle.mbufsInUse+512 {
		t.Errorf("%d mbufs in use after the soak, %d idle before it", end.mbufsInUse, idle.mbufsInUse)
	}
	if warm.rss != 0 && float64(end.rss) > float64(warm.rss)*1.10 {
		t.Errorf("resident memory %d kB after the soak, %d kB after its first minute: growing", end.rss, warm.rss)
	}
	if end.goroutines > idle.goroutines+5 {
		t.Errorf("%d goroutines after the soak, %d idle before it", end.goroutines, idle.goroutines)
	}
	maxRSS := 0
	for _, s := range samples {
		maxRSS = max(maxRSS, s.rss)
	}
	t.Logf("SOAK RESULT: %v of traffic and %d reconfigurations; HTTP %d requests ok, %d failed; %d x 64 MB downloads byte-identical; UDP %d/%d echoed within 1 s, %d in and %d out through the gateway; "+
		"RSS idle %d kB, after 1 min %d kB, max %d kB, after drain %d kB; mbufs in use idle %d, after drain %d; go heap idle %d B, after %d B; goroutines %d -> %d; sessions 0 after %v of drain",
		dur.Round(time.Second), len(samples), rep.OK, rep.Failed, bulkOK, udpEchoed, udpSent, udpIn, udpOut,
		idle.rss, warm.rss, maxRSS, end.rss, idle.mbufsInUse, end.mbufsInUse, idle.heap, end.heap, idle.goroutines, end.goroutines,
		time.Since(drainStart).Round(time.Second))
}

// soakSample is the gateway's footprint at one instant.
type soakSample struct {
	rss        int // VmRSS, kB
	mbufsInUse int
	heap       uint64
	goroutines int
	sessions   int64
}

func (s soakSample) String() string {
	return fmt.Sprintf("rss %d kB, mbufs in use %d, go heap %d B, goroutines %d, sessions %d", s.rss, s.mbufsInUse, s.heap, s.goroutines, s.sessions)
}

func (tp *fnTopo) soakSample(t *testing.T, pid int) soakSample {
	t.Helper()
	var s soakSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("the gateway's status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.rss, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	var m struct {
		InUse      int    `json:"mbufs_in_use"`
		Heap       uint64 `json:"go_heap_bytes"`
		Goroutines int    `json:"goroutines"`
	}
	tp.g.MustJSON(&m, "mem")
	s.mbufsInUse, s.heap, s.goroutines = m.InUse, m.Heap, m.Goroutines
	for _, c := range tp.cores(t) {
		s.sessions += c.Sessions
	}
	return s
}

// soakDownload writes size random bytes to www/name, fetches them through
// the gateway at rate bytes per second and reports whether they came back
// byte-identical. It is safe from any goroutine (no t.Fatal).
func (tp *fnTopo) soakDownload(name string, size, rate int64) (bool, error) {
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	src := filepath.Join(tp.dir, "www", name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		return false, err
	}
	data = nil
	out := filepath.Join(tp.dir, name+".out")
	defer os.Remove(out)
	timeout := time.Duration(size/rate+60) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := tp.client.Command(tp.peer, "fetch", "-url", "http://"+fnHTTP+"/files/"+name, "-o", out,
		"-rate", strconv.FormatInt(rate, 10), "-timeout", timeout.String())
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("%v: %s", err, stderr.String())
	}
	n, got, err := fileSHA256(out)
	if err != nil {
		return false, err
	}
	if n != size || !bytes.Equal(got, want[:]) {
		return false, fmt.Errorf("%s: %d bytes, sha256 %x; want %d bytes, %x", name, n, got, size, want)
	}
	return true, nil
}
