package worker

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"fngw/dpdk"
	"fngw/lcore"
	"fngw/perf/datapath"
	"fngw/perf/gen"
)

// The EAL is initialised once per process with two net_pcap ports, each
// replaying a pcap from memory and dropping what it transmits:
//
//	port 0  1 024 UDP flows client → VIP (established after the first pass)
//	port 1  the same flows both ways: client → VIP and RS → LIP interleaved
//
// Every port's MAC is net_pcap's fixed 02:70:63:61:70:<port>, which the
// frames are addressed to.
const flows = 1024

var (
	pool  *dpdk.Pool
	ports []*dpdk.Port
	specs []gen.Spec
	cpu   = 1 // the CPU the worker is pinned to (FNGW_BENCH_CPU)
	built int // datapaths built so far
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("perf/worker: skipped, the DPDK benchmarks need root")
		os.Exit(0)
	}
	runtime.LockOSThread()
	if v, err := strconv.Atoi(os.Getenv("FNGW_BENCH_CPU")); err == nil {
		cpu = v
	} else if runtime.NumCPU() == 1 {
		cpu = 0
	}
	code, err := run(m)
	if err != nil {
		fmt.Println("perf/worker:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "fngw-perf-worker-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	args := []string{"worker.test", "-l", "0", "--no-huge", "-m", "512", "--no-pci", "--log-level", "*:error",
		"--file-prefix", fmt.Sprintf("perfworker%d", os.Getpid())}
	for i, mode := range []gen.Mode{gen.Forward, gen.Mixed} {
		sp, err := gen.LabSpec(mode, "udp", flows, 64, 80, 8080, 1, 1)
		if err != nil {
			return 0, err
		}
		sp.GatewayMAC = net.HardwareAddr{0x02, 0x70, 0x63, 0x61, 0x70, byte(i)}
		path := filepath.Join(dir, fmt.Sprintf("port%d.pcap", i))
		if _, err := gen.WriteFile(path, sp); err != nil {
			return 0, err
		}
		specs = append(specs, sp)
		args = append(args, "--vdev", fmt.Sprintf("net_pcap%d,rx_pcap=%s,infinite_rx=1", i, path))
	}
	if err := dpdk.Init(args); err != nil {
		return 0, err
	}
	defer dpdk.Cleanup()
	if pool, err = dpdk.NewPool("perfworker", 16383, 256, 2048+dpdk.DefaultHeadroom, -1); err != nil {
		return 0, err
	}
	for i := range specs {
		p, err := dpdk.PortByName(fmt.Sprintf("net_pcap%d", i))
		if err != nil {
			return 0, err
		}
		if _, err := p.Configure(dpdk.PortConf{RxQueues: 1, TxQueues: 1, RxDesc: 1024, TxDesc: 1024, Pool: pool}); err != nil {
			return 0, err
		}
		if err := p.Start(); err != nil {
			return 0, err
		}
		defer p.Stop()
		ports = append(ports, p)
	}
	return m.Run(), nil
}

// newDatapath is a one-worker datapath polling port, which is first wound
// to the start of its pcap: the local ports a forward pass allocates depend
// on the order of the flows, and the replies of the mixed pcap expect it
// from the start.
func newDatapath(tb testing.TB, port int) *datapath.Datapath {
	tb.Helper()
	rewind(tb, port)
	macs := make([]net.HardwareAddr, len(specs))
	for i := range specs {
		macs[i] = specs[i].GatewayMAC
	}
	built++ // DPDK ring names are unique per process
	d, err := datapath.New(datapath.Config{Spec: specs[port], Cores: 1, Sessions: 1 << 16, PortMACs: macs,
		IO:       func(int) lcore.IO { return dpdk.EthIO{Pool: pool} },
		Rx:       func(int) []lcore.Queue { return []lcore.Queue{{Port: ports[port].ID, Queue: 0}} },
		NewBurst: dpdk.NewBurst,
		NewRing: func(name string, size int) (lcore.Ring, error) {
			return dpdk.NewRing(fmt.Sprintf("%s_%d", name, built), size, true)
		},
		Start:    1,
		CPU:      func(int) int { return cpu },
		Register: func() error { _, err := dpdk.ThreadRegister(); return err },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// rewind receives and frees packets of port until its replay is at the
// first frame of the pcap (net_pcap loops over the file in order).
func rewind(tb testing.TB, port int) {
	tb.Helper()
	st, err := ports[port].Stats()
	if err != nil {
		tb.Fatal(err)
	}
	frames := uint64(specs[port].Packets())
	need := (frames - st.RxPackets%frames) % frames
	bufs := map[int]*dpdk.Burst{}
	for need > 0 {
		k := int(min(need, lcore.BurstSize))
		bu := bufs[k]
		if bu == nil {
			bu = dpdk.NewBurst(k)
			defer bu.Release()
			bufs[k] = bu
		}
		n := dpdk.RxBurst(ports[port].ID, 0, bu)
		dpdk.FreeBulk(bu, 0, n)
		need -= uint64(n)
	}
}

// benchRun runs the gateway's worker loop (Worker.Run: pinned, registered,
// timed as in production) on port until it has forwarded b.N packets after
// the first pass, and reports per-packet figures.
func benchRun(b *testing.B, port int) {
	d := newDatapath(b, port)
	w := d.Workers[0]
	done := make(chan error, 1)
	go func() {
		err := w.Run()
		dpdk.ThreadUnregister()
		done <- err
	}()
	stop := func() {
		w.Stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	// The first pass creates the sessions.
	for d.Created() < uint64(specs[port].Flows) {
		select {
		case err := <-done:
			b.Fatalf("worker stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	time.Sleep(50 * time.Millisecond)
	b.ReportAllocs()
	tx0, cgo0 := w.Stats().Tx, runtime.NumCgoCall()
	b.ResetTimer()
	for w.Stats().Tx-tx0 < uint64(b.N) {
		time.Sleep(time.Millisecond) // reading the counters pulls the worker's cache lines: rarely
	}
	b.StopTimer()
	tx, cgo := w.Stats().Tx-tx0, runtime.NumCgoCall()-cgo0
	stop()
	el := b.Elapsed().Seconds()
	b.ReportMetric(float64(tx)/el/1e6, "Mpps")
	b.ReportMetric(float64(cgo)/float64(tx), "cgo/pkt")
	if dr := d.Drops(); dr != nil {
		b.Fatalf("drops: %v", dr)
	}
}

// BenchmarkRunEstablished: 1 024 established UDP flows, client → VIP.
func BenchmarkRunEstablished(b *testing.B) { benchRun(b, 0) }

// BenchmarkRunMixed: the same flows, client → VIP and real server → LIP.
func BenchmarkRunMixed(b *testing.B) { benchRun(b, 1) }

// BenchmarkBareLoop is rx burst → tx burst on port 0 with nothing in
// between, on this goroutine's registered thread: the ceiling of any Go
// loop on this vdev.
func BenchmarkBareLoop(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := dpdk.ThreadRegister(); err != nil {
		b.Fatal(err)
	}
	defer dpdk.ThreadUnregister()
	bu := dpdk.NewBurst(lcore.BurstSize)
	defer bu.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		k := dpdk.RxBurst(ports[0].ID, 0, bu)
		s := dpdk.TxBurst(ports[0].ID, 0, bu, 0, k)
		dpdk.FreeBulk(bu, s, k-s)
		n += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
}

// TestPollAllocsAndCgo polls the worker on this test's thread (registered
// as an lcore): no allocation per burst of lcore.BurstSize packets, and a handful of cgo
// calls per burst (rx, tx and, when something is dropped, a bulk free),
// never one per packet.
func TestPollAllocsAndCgo(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := dpdk.ThreadRegister(); err != nil {
		t.Fatal(err)
	}
	defer dpdk.ThreadUnregister()
	for port := range specs {
		t.Run(fmt.Sprint(specs[port].Mode), func(t *testing.T) {
			d := newDatapath(t, port)
			w := d.Workers[0]
			now := int64(1)
			for d.Created() < uint64(specs[port].Flows) {
				w.Poll(now)
			}
			pkts := 0
			cgo0 := runtime.NumCgoCall()
			a := testing.AllocsPerRun(1000, func() { pkts += w.Poll(now) })
			cgo := runtime.NumCgoCall() - cgo0
			if a != 0 {
				t.Fatalf("%.2f allocations per poll", a)
			}
			if pkts < 1000*lcore.BurstSize {
				t.Fatalf("%d packets in 1 001 polls: the port did not deliver full bursts", pkts)
			}
			if per := float64(cgo) / float64(pkts); per > 4.0/lcore.BurstSize {
				t.Fatalf("%.3f cgo calls per packet (%d calls, %d packets): more than a few per burst", per, cgo, pkts)
			}
			t.Logf("%d packets, %d cgo calls (%.3f per packet)", pkts, cgo, float64(cgo)/float64(pkts))
			if dr := d.Drops(); dr != nil {
				t.Fatalf("drops: %v", dr)
			}
		})
	}
}
