package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc CPU times (100 on every Linux
// architecture Go supports).
const clockTick = 100

// cpuSnap is the machine's CPU time and the CPU time of the processes the lab
// accounts for (the one under test, the runner and its finished children).
type cpuSnap struct {
	at          time.Time
	busy, steal uint64 // all CPUs, ticks
	proc        uint64 // the process under test, ticks
	self        uint64 // the runner and its waited-for children, ticks
}

// readCPU reads /proc/stat's "cpu" line: busy is every state but idle and
// iowait; steal is time the hypervisor gave to someone else.
func readCPU() (busy, steal uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	for i, x := range f[1:] {
		v, _ := strconv.ParseUint(x, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 8, 9: // guest, guest_nice: already counted in user and nice
		default:
			busy += v
		}
		if i == 7 {
			steal = v
		}
	}
	return busy, steal
}

// procTicks is utime+stime of pid (all its threads).
func procTicks(pid int) uint64 { return statTicks(fmt.Sprintf("/proc/%d/stat", pid)) }

// statTicks is the user and system time in a /proc stat file: a process's,
// or a thread's (/proc/PID/task/TID/stat; /proc/TID/stat is its process's).
func statTicks(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name (which may hold spaces).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s
}

func selfTicks() uint64 {
	var t uint64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			t += uint64(ru.Utime.Nano()+ru.Stime.Nano()) / (1e9 / clockTick)
		}
	}
	return t
}

func snapCPU(pid int) cpuSnap {
	b, s := readCPU()
	return cpuSnap{at: time.Now(), busy: b, steal: s, proc: procTicks(pid), self: selfTicks()}
}

// Noise is the CPU time, in cores, that neither the process under test nor
// the runner used between a and b (other work on the machine), and the
// hypervisor's steal time, in cores.
func noise(a, b cpuSnap) (others, steal float64) {
	d := b.at.Sub(a.at).Seconds() * clockTick
	if d <= 0 {
		return 0, 0
	}
	o := float64(b.busy-a.busy) - float64(b.proc-a.proc) - float64(b.self-a.self)
	return max(o, 0) / d, float64(b.steal-a.steal) / d
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// rssBytes is pid's resident set size.
func rssBytes(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// Machine describes where the figures were measured.
type Machine struct {
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	Hyper     string `json:"hypervisor,omitempty"`
	MemoryGiB int    `json:"memory_gib"`
	Kernel    string `json:"kernel"`
	DPDK      string `json:"dpdk"`
	Go        string `json:"go"`
	Hugepages bool   `json:"hugepages"`
	THP       string `json:"transparent_hugepages"`
}

// DescribeMachine reads the machine's description from /proc, uname and dpkg.
func DescribeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok && m.CPU == "" {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			}
			if strings.HasPrefix(l, "flags") && strings.Contains(l, " hypervisor") {
				m.Hyper = "yes"
			}
		}
	}
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "Hypervisor vendor:"); ok {
				m.Hyper = strings.TrimSpace(v)
			}
		}
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemoryGiB = int((uint64(si.Totalram)*uint64(si.Unit) + 1<<29) >> 30)
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	if out, err := exec.Command("pkg-config", "--modversion", "libdpdk").Output(); err == nil {
		m.DPDK = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err == nil {
		s := string(b)
		if i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']'); i >= 0 && j > i {
			m.THP = s[i+1 : j]
		}
	}
	return m
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// String is a one-line description.
func (m Machine) String() string {
	s := fmt.Sprintf("%s, %d CPUs, %d GiB", m.CPU, m.CPUs, m.MemoryGiB)
	if m.Hyper != "" {
		s += ", VM (" + m.Hyper + ")"
	}
	pages := "no hugepages (--no-huge)"
	if m.Hugepages {
		pages = "2 MiB hugepages"
	}
	return s + fmt.Sprintf(", Linux %s, DPDK %s, %s, %s, THP %s", m.Kernel, m.DPDK, m.Go, pages, m.THP)
}

// LoadLine is /proc/loadavg as uptime shows it.
func LoadLine() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return "load average " + strings.Join(f[:3], ", ")
}

// workerThread is the gateway's worker thread: of pid's threads allowed
// on cpu alone, the one that used the most CPU time (DPDK's own thread for
// that lcore sleeps).
func workerThread(pid, cpu int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	want := "Cpus_allowed_list:\t" + strconv.Itoa(cpu) + "\n"
	best, most := 0, uint64(0)
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("%s/%d/status", dir, tid))
		if err != nil || !strings.Contains(string(st), want) {
			continue
		}
		if t := statTicks(fmt.Sprintf("%s/%d/stat", dir, tid)); best == 0 || t > most {
			best, most = tid, t
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no thread of process %d is pinned to CPU %d", pid, cpu)
	}
	return best, nil
}

// schedstat is a thread's time on a CPU and time waiting on a run queue,
// in ns, from /proc/PID/task/TID/schedstat (the kernel's sched_info).
func schedstat(pid, tid int) (run, wait uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, tid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("schedstat of thread %d: %q", tid, b)
	}
	run, err1 := strconv.ParseUint(f[0], 10, 64)
	wait, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("schedstat of thread %d: %q", tid, b)
	}
	return run, wait, nil
}
