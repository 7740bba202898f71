package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fngw/test/harness"
)

// arpingReport is what `arping -b` printed: requests sent, replies, and
// each reply's round trip.
type arpingReport struct {
	sent, received int
	worst          time.Duration
}

var arpingRTT = regexp.MustCompile(`reply from .* ([0-9.]+)ms`)

// arping sends count ARP requests for addr from the namespace's link, one
// every 100 ms, always broadcast (as a router revalidating a STALE entry
// would, with no shortcut through its cache), each waiting a second at most
// for its answer, and reports them.
func arping(t *testing.T, ns *harness.Netns, link, addr string, count int) arpingReport {
	t.Helper()
	var r arpingReport
	for range count {
		start := time.Now()
		out, err := ns.Run("arping", "-b", "-c", "1", "-w", "1", "-I", link, addr)
		r.sent++
		if m := arpingRTT.FindStringSubmatch(out); err == nil && m != nil {
			r.received++
			ms, _ := strconv.ParseFloat(m[1], 64)
			r.worst = max(r.worst, time.Duration(ms*float64(time.Millisecond)))
		}
		time.Sleep(100*time.Millisecond - time.Since(start))
	}
	return r
}

// check fails the test unless every request was answered within a second.
func (r arpingReport) check(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %d ARP requests, %d answered, slowest %v", what, r.sent, r.received, r.worst)
	if r.sent == 0 || r.received < r.sent || r.worst >= time.Second {
		t.Errorf("%s: %d ARP requests, %d answered, slowest %v: want every one answered within 1 s", what, r.sent, r.received, r.worst)
	}
}

// TestARPUnderControlLoad: 32 keep-alive Prometheus scrapers and 4 loops of
// `gw adm -L -n --stats` keep the control lcore busy for 30 s while a
// client ARPs for the VIP every 100 ms: every request is answered within a
// second (the control lcore polls packets between two jobs, and scrapes
// share one gathering per second). Before, 16-32 concurrent submitters left
// ARP requests unanswered for seconds, and an upstream router's entry for
// the VIP went STALE, then FAILED. A command that used to kill the gateway
// (an IPv6 service) is refused on the way.
func TestARPUnderControlLoad(t *testing.T) {
	const metrics = "127.0.0.1:9180"
	c := startTapClient(t, harness.Config{Metrics: metrics})
	c.gwNS.MustIP("link", "set", "lo", "up")
	c.gw.MustCmd("adm", "-A", "-t", "198.18.1.100:80", "-s", "rr") // a VIP on the client's subnet
	if out, err := c.gw.Cmd("adm", "-A", "-t", "[2001:db8::1]:80", "-s", "rr"); err == nil || !strings.Contains(out+err.Error(), "IPv6 is not served yet") {
		t.Errorf("an IPv6 service: %v: %s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var scrapes, listings atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: 32, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := c.gwNS.Do(func() (err error) { conn, err = (&net.Dialer{}).DialContext(ctx, network, addr); return })
		return conn, err
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metrics+"/metrics", nil)
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					scrapes.Add(1)
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := c.gw.Cmd("adm", "-L", "-n", "--stats"); err == nil {
					listings.Add(1)
				}
			}
		}()
	}
	r := arping(t, c.client, c.tap, "198.18.1.100", 300)
	cancel()
	wg.Wait()
	t.Logf("meanwhile: %d scrapes, %d listings", scrapes.Load(), listings.Load())
	if scrapes.Load() < 100 || listings.Load() < 10 {
		t.Errorf("only %d scrapes and %d listings: the control lcore was not under load", scrapes.Load(), listings.Load())
	}
	r.check(t, "under 32 scrapers and 4 listing loops")
}

// linkCounters is what `gw link show -s --json` says of a port.
type linkCounters struct {
	Name     string `json:"dev"`
	RxNombuf uint64 `json:"rx_nombuf"`
	Imissed  uint64 `json:"imissed"`
}

// TestPingFloodKeepsARPAndFlows: a flood of large ICMP echo requests at the
// VIP while a client ARPs for it and downloads through it: ARP is answered
// within a second (it has a ring of its own toward the control lcore, read
// first), echo requests beyond the per-core rate are dropped and counted
// (icmp_local_rate_limited), the download completes intact, and no port
// ever ran out of mbufs (the pool counts every ring).
func TestPingFloodKeepsARPAndFlows(t *testing.T) {
	tp := startFullNAT(t, fnOpts{})
	tp.addFullNATServices(t, "rr")
	f := tp.startDownload(t, fnHTTP, "flood.bin", 8<<20, 1<<20, time.Minute)
	f.waitStarted(t, 64<<10)
	flood := tp.client.Command("ping", "-f", "-l", "64", "-s", "1400", "-w", "7", fnVIP)
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	r := arping(t, tp.client, tp.clientLink(t), fnVIP, 60)
	flood.Wait()
	f.mustBeRunning(t, "after the flood")
	f.wait(t)
	r.check(t, "during a ping flood")
	limited := uint64(0)
	for _, c := range tp.cores(t) {
		limited += c.Drops["icmp_local_rate_limited"]
	}
	if limited == 0 {
		t.Error("no echo request was rate-limited: was there a flood?")
	}
	var links []linkCounters
	tp.g.MustJSON(&links, "link", "show", "-s", "--json")
	for _, l := range links {
		if l.RxNombuf != 0 {
			t.Errorf("port %s: rx_nombuf %d, want 0", l.Name, l.RxNombuf)
		}
	}
	t.Logf("echo requests rate-limited: %d", limited)
}

// TestShutdownUnderTraffic: SIGTERM while a download and UDP flows go
// through the gateway: it stops with status 0 (its workers stopped and
// joined before DPDK is cleaned up), not with a crash on a freed port.
func TestShutdownUnderTraffic(t *testing.T) {
	tp := startFullNAT(t, fnOpts{cfg: harness.Config{Lcores: "0-1", IdleSleepUS: -1}})
	tp.addFullNATServices(t, "rr")
	f := tp.startDownload(t, fnHTTP, "stop.bin", 64<<20, 4<<20, time.Minute)
	f.waitStarted(t, 256<<10)
	udp := tp.client.Command(tp.peer, "udp", "-addr", fnUDP, "-flows", "8", "-n", "100000")
	if err := udp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { udp.Process.Kill(); udp.Wait() }()
	time.Sleep(500 * time.Millisecond)
	if err := tp.g.Terminate(); err != nil {
		t.Fatalf("%v\n%s", err, tp.g.LogTail(30))
	}
	if log := tp.g.LogTail(200); strings.Contains(log, "panic") || strings.Contains(log, "SIGSEGV") || !strings.Contains(log, "workers stopped") {
		t.Errorf("the gateway's log after SIGTERM under traffic:\n%s", log)
	}
}

// clientLink is the client namespace's link toward the gateway.
func (tp *fnTopo) clientLink(t *testing.T) string {
	t.Helper()
	out := tp.client.MustIP("-j", "route", "get", fnVIP)
	var routes []struct {
		Dev string `json:"dev"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil || len(routes) == 0 {
		t.Fatalf("route to %s in the client: %q %v", fnVIP, out, err)
	}
	return routes[0].Dev
}
