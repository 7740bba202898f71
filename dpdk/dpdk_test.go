package dpdk

import (
	"fmt"
	"os"
	"runtime"
	"testing"
)

// The EAL can be initialised once per process: TestMain does it on a locked thread
// with two virtual devices: net_null (rx makes 64-byte packets, tx drops) and
// net_ring (a loopback port whose tx feeds its rx).
var (
	pool               *Pool
	nullPort, ringPort *Port
)

func TestMain(m *testing.M) {
	runtime.LockOSThread()
	if os.Geteuid() != 0 {
		fmt.Println("dpdk tests need root (EAL, hugepage-less memory, vdevs)")
		os.Exit(1)
	}
	args := []string{"dpdk.test", "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--log-level", "error",
		"--file-prefix", fmt.Sprintf("dpdktest%d", os.Getpid()),
		"--vdev", "net_null0,size=64,copy=1", "--vdev", "net_ring0"}
	if err := Init(args); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var err error
	if pool, err = NewPool("test", 4095, 64, 2048+DefaultHeadroom, -1); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, p := range []**Port{&nullPort, &ringPort} {
		name := "net_null0"
		if p == &ringPort {
			name = "net_ring0"
		}
		if *p, err = PortByName(name); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		if _, err = (*p).Configure(PortConf{RxQueues: 1, TxQueues: 1, RxDesc: 512, TxDesc: 512, Pool: pool}); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		if err = (*p).Start(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	}
	code := m.Run()
	nullPort.Stop()
	ringPort.Stop()
	Cleanup()
	os.Exit(code)
}

func TestPortByNameUnknown(t *testing.T) {
	if _, err := PortByName("net_nosuch9"); err == nil {
		t.Fatal("expected an error for an unknown port")
	}
}

func TestRxTxNull(t *testing.T) {
	b := NewBurst(32)
	defer b.Release()
	n := RxBurst(nullPort.ID, 0, b)
	if n != 32 {
		t.Fatalf("net_null rx gave %d packets, want 32", n)
	}
	for i := 0; i < n; i++ {
		if l := b.Pkts[i].DataLen(); l != 64 {
			t.Fatalf("packet %d: data_len %d, want 64", i, l)
		}
		if off := b.Pkts[i].DataOff(); off != DefaultHeadroom {
			t.Fatalf("packet %d: data_off %d, want %d", i, off, DefaultHeadroom)
		}
	}
	sent := TxBurst(nullPort.ID, 0, b, 0, n)
	FreeBulk(b, sent, n-sent)
	if sent != n {
		t.Fatalf("net_null tx took %d of %d", sent, n)
	}
	st, err := nullPort.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RxPackets < 32 || st.TxPackets < 32 {
		t.Fatalf("stats did not move: %+v", st)
	}
}

func TestRingPortLoopback(t *testing.T) {
	b := NewBurst(8)
	defer b.Release()
	if !pool.AllocBulk(b, 0, 4) {
		t.Fatal("alloc bulk of 4 failed")
	}
	for i := 0; i < 4; i++ {
		m := b.Pkts[i]
		m.SetData(m.DataOff(), 60)
		d := m.Data()
		for j := range d {
			d[j] = byte(i)
		}
	}
	if sent := TxBurst(ringPort.ID, 0, b, 0, 4); sent != 4 {
		t.Fatalf("net_ring tx took %d of 4", sent)
	}
	n := RxBurst(ringPort.ID, 0, b)
	if n != 4 {
		t.Fatalf("net_ring rx gave %d, want 4", n)
	}
	for i := 0; i < n; i++ {
		if d := b.Pkts[i].Data(); len(d) != 60 || d[0] != byte(i) || d[59] != byte(i) {
			t.Fatalf("packet %d came back as len %d first %d", i, len(d), d[0])
		}
	}
	FreeBulk(b, 0, n)
}

func TestRing(t *testing.T) {
	r, err := NewRing("t", 16, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free()
	b := NewBurst(32)
	defer b.Release()
	if !pool.AllocBulk(b, 0, 20) {
		t.Fatal("alloc")
	}
	in := pool.InUse()
	if got := r.Enqueue(b, 0, 20); got != 15 {
		t.Fatalf("enqueue into a 16-slot ring took %d, want 15 (usable size)", got)
	}
	if r.Count() != 15 {
		t.Fatalf("count %d", r.Count())
	}
	first := b.Pkts[0]
	FreeBulk(b, 15, 5)
	if got := r.Dequeue(b, 0, 32); got != 15 || b.Pkts[0] != first {
		t.Fatalf("dequeue %d (first %p want %p)", got, b.Pkts[0], first)
	}
	FreeBulk(b, 0, 15)
	if pool.InUse() >= in {
		t.Fatalf("in-use did not drop: %d -> %d", in, pool.InUse())
	}
}

func TestPortInfo(t *testing.T) {
	in, err := nullPort.Info()
	if err != nil {
		t.Fatal(err)
	}
	if in.Driver != "net_null" {
		t.Fatalf("driver %q", in.Driver)
	}
	if _, err := ringPort.MAC(); err != nil {
		t.Fatal(err)
	}
	if l, err := nullPort.Link(); err != nil || !l.Up {
		t.Fatalf("link %+v %v", l, err)
	}
}

func BenchmarkRxTxNull(b *testing.B) {
	bu := NewBurst(32)
	defer bu.Release()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n := RxBurst(nullPort.ID, 0, bu)
		s := TxBurst(nullPort.ID, 0, bu, 0, n)
		FreeBulk(bu, s, n-s)
	}
	b.ReportMetric(float64(b.N*32)/b.Elapsed().Seconds()/1e6, "Mpps")
}
