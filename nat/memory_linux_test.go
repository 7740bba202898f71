package nat

import (
	"bufio"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestTableCommitted: NewTable's arrays are resident when it returns (no page
// faults left for the worker) and, where THP is available, advised for huge
// pages (VmFlags "hg"; whether the kernel grants them depends on the
// contiguous memory it has free, so AnonHugePages is only logged);
// with 1 Mi sessions the session array (96 MiB) is mapped off the Go heap,
// the index (23 MiB) is on it: both ways are checked.
func TestTableCommitted(t *testing.T) {
	tb, err := NewTable(TableConfig{Capacity: 1 << 20, Seed: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	huge := err == nil && !strings.Contains(string(thp), "[never]")
	for _, a := range []struct {
		name string
		p    uintptr
		n    uintptr
	}{
		{"sessions", uintptr(unsafe.Pointer(&tb.sess[0])), uintptr(len(tb.sess)) * unsafe.Sizeof(Session{})},
		{"index", uintptr(unsafe.Pointer(&tb.buckets[0])), uintptr(len(tb.buckets)) * unsafe.Sizeof(bucket{})},
	} {
		rss, anonHuge, advised := vmaOf(t, a.p, a.n)
		if rss < uint64(a.n) {
			t.Errorf("%s: %d bytes, but the mappings holding them have only %d resident", a.name, a.n, rss)
		}
		// All but the partial huge pages at its ends.
		if huge && advised < uint64(a.n)-2*hugePage {
			t.Errorf("%s: %d bytes with THP %q, but only %d of them advised for huge pages", a.name, a.n, strings.TrimSpace(string(thp)), advised)
		}
		t.Logf("%s: %d bytes; mappings: Rss %d, AnonHugePages %d; advised %d", a.name, a.n, rss, anonHuge, advised)
	}
	runtime.KeepAlive(tb)
}

// vmaOf returns the Rss and AnonHugePages of the mappings that overlap
// [p, p+n), from /proc/self/smaps (madvise splits a mapping where advice
// changes, so an array may span several), and how many bytes of [p, p+n)
// lie in mappings advised for huge pages (VmFlags hg).
func vmaOf(t *testing.T, p, n uintptr) (rss, anonHuge, advised uint64) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, found := false, false
	var overlap uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fs[0], "-"); ok {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uint64(p) < b && uint64(p+n) > a
				overlap = min(b, uint64(p+n)) - max(a, uint64(p))
				found = found || in
				continue
			}
		}
		if !in || len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(fs[1], 10, 64)
		switch fs[0] {
		case "Rss:":
			rss += v << 10
		case "AnonHugePages:":
			anonHuge += v << 10
		case "VmFlags:":
			if slices.Contains(fs[1:], "hg") {
				advised += overlap
			}
		}
	}
	if !found {
		t.Fatalf("no mapping holds %#x", p)
	}
	return rss, anonHuge, advised
}

// TestTableUnmapped: a table mapped off the Go heap gives its memory back
// once it is unreachable.
func TestTableUnmapped(t *testing.T) {
	tb, err := NewTable(TableConfig{Capacity: 1 << 20, Seed: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := uintptr(unsafe.Pointer(&tb.sess[0]))
	tb = nil
	for range 100 {
		runtime.GC()
		if !mapped(t, p) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("session array at %#x still mapped after its table became unreachable", p)
}

// mapped reports whether /proc/self/maps has a mapping holding p.
func mapped(t *testing.T, p uintptr) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		lo, rest, ok := strings.Cut(l, "-")
		hi, _, _ := strings.Cut(rest, " ")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		z, err2 := strconv.ParseUint(hi, 16, 64)
		if ok && err1 == nil && err2 == nil && uint64(p) >= a && uint64(p) < z {
			return true
		}
	}
	return false
}
