package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"fngw/ctl"
)

var (
	pciRE    = regexp.MustCompile(`^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7](,.*)?$`)
	vdevRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*[0-9](,.*)?$`)
	ifaceRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// ealOwned are EAL options generated from the file; eal.args must not
// repeat them.
var ealOwned = map[string]string{
	"-l": "eal.lcores", "-c": "eal.lcores", "--lcores": "eal.lcores", "--main-lcore": "eal.lcores",
	"-m": "eal.memory_mb", "--socket-mem": "eal.memory_mb", "--no-huge": "eal.hugepages",
	"--file-prefix": "eal.file_prefix", "--vdev": "port.device", "-a": "port.device",
	"--allow": "port.device", "-w": "port.device", "--no-pci": "port.device",
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func (v *validator) file(raw *rawFile) *File {
	f := &File{LB: ctl.NewConfig()}
	v.eal(raw, f)
	f.Log.Level = deref(raw.Log.Level, DefaultLogLevel)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, f.Log.Level) {
		v.errf("log.level", "%q is not a log level; use debug, info, warn or error", f.Log.Level)
	}
	f.IdleSleepUS = deref(raw.IdleSleepUS, 0)
	if f.IdleSleepUS < 0 || f.IdleSleepUS > 1000000 {
		v.errf("idle_sleep_us", "%d out of range 0-1000000 (0 never sleeps)", f.IdleSleepUS)
	}
	f.IdlePolls = deref(raw.IdlePolls, DefaultIdlePolls)
	if f.IdlePolls < 1 {
		v.errf("idle_polls", "%d must be at least 1", f.IdlePolls)
	}
	v.ports(raw, f)
	v.workers(raw, f)
	v.routes(raw, f)
	v.neighs(raw, f)
	v.ctl(raw, f)
	v.session(raw, f)
	v.pool(raw, f)
	v.services(raw, f)
	v.marks(raw, f)
	if len(v.errs) == 0 {
		// Conflicts between objects, checked as every command path checks
		// them (the objects themselves are valid by now).
		if err := f.LB.CheckConflicts(); err != nil {
			v.err("service", err)
		}
	}
	return f
}

// ParseLcores parses a DPDK lcore list such as "0-3,5,8-9", keeping the
// order written. An element may also be LCORE@CPU (DPDK's --lcores form), which
// runs that lcore on that CPU, e.g. "0@0,1@1,2@1" for two workers sharing CPU 1
// on a small machine; see ParseLcoreCPUs.
func ParseLcores(s string) ([]int, error) {
	ids, _, err := ParseLcoreCPUs(s)
	return ids, err
}

// ParseLcoreCPUs is ParseLcores that also returns the CPU of each lcore written
// as LCORE@CPU (nil when there is none: every lcore runs on the CPU of its number).
func ParseLcoreCPUs(s string) ([]int, map[int]int, error) {
	var out []int
	var cpus map[int]int
	if strings.TrimSpace(s) == "" {
		return nil, nil, fmt.Errorf("empty lcore list; write e.g. \"0-1\"")
	}
	for _, part := range strings.Split(s, ",") {
		if id, cpu, ok := strings.Cut(part, "@"); ok {
			a, err1 := strconv.Atoi(id)
			c, err2 := strconv.Atoi(cpu)
			if err1 != nil || err2 != nil || a < 0 || c < 0 || a > MaxLcore || c > MaxLcore {
				return nil, nil, fmt.Errorf("%q is not LCORE@CPU with numbers 0-%d (write e.g. \"2@1\")", part, MaxLcore)
			}
			if slices.Contains(out, a) {
				return nil, nil, fmt.Errorf("lcore %d listed twice", a)
			}
			if cpus == nil {
				cpus = make(map[int]int)
			}
			cpus[a] = c
			out = append(out, a)
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < 0 {
			return nil, nil, fmt.Errorf("%q is not an lcore number or range (write e.g. \"0-1,4\")", part)
		}
		if b < a {
			return nil, nil, fmt.Errorf("range %q goes backwards; write %d-%d", part, b, a)
		}
		if b > MaxLcore {
			return nil, nil, fmt.Errorf("lcore %d above the maximum %d", b, MaxLcore)
		}
		for i := a; i <= b; i++ {
			if slices.Contains(out, i) {
				return nil, nil, fmt.Errorf("lcore %d listed twice", i)
			}
			out = append(out, i)
		}
	}
	return out, cpus, nil
}

func (v *validator) eal(raw *rawFile, f *File) {
	e := &f.EAL
	if raw.EAL.Lcores == nil {
		v.errf("eal.lcores", "missing; list the control lcore then the workers, e.g. lcores = \"0-1\"")
	} else {
		e.LcoresText = *raw.EAL.Lcores
		l, cpus, err := ParseLcoreCPUs(e.LcoresText)
		e.CPUs = cpus
		switch {
		case err != nil:
			v.errf("eal.lcores", "%v", err)
		case len(l) < 2:
			v.errf("eal.lcores", "%q has one lcore; the first is the control lcore, so at least one worker lcore must follow", e.LcoresText)
		default:
			e.Lcores = l
		}
	}
	e.MemoryMB = deref(raw.EAL.MemoryMB, DefaultMemoryMB)
	if e.MemoryMB < 64 || e.MemoryMB > 1<<20 {
		v.errf("eal.memory_mb", "%d out of range 64-1048576 MB", e.MemoryMB)
	}
	e.Hugepages = raw.EAL.Hugepages
	e.FilePrefix = deref(raw.EAL.FilePrefix, DefaultFilePrefix)
	if !prefixRE.MatchString(e.FilePrefix) {
		v.errf("eal.file_prefix", "%q: use letters, digits, '_' and '-' (it names files under /var/run/dpdk)", e.FilePrefix)
	}
	for i, a := range raw.EAL.Args {
		name, _, _ := strings.Cut(a, "=")
		if owner, ok := ealOwned[name]; ok {
			v.errf(fmt.Sprintf("eal.args[%d]", i), "%q is generated from %s; set it there", a, owner)
		} else if a == "" {
			v.errf(fmt.Sprintf("eal.args[%d]", i), "empty argument")
		}
	}
	e.Args = raw.EAL.Args
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

func (v *validator) ports(raw *rawFile, f *File) {
	if len(raw.Ports) == 0 {
		v.errf("port", "no [[port]]; the gateway needs at least one port")
	}
	for i, rp := range raw.Ports {
		key := fmt.Sprintf("port[%d]", i)
		p := Port{Name: rp.Name, Device: rp.Device, Promiscuous: rp.Promiscuous,
			Queues: deref(rp.Queues, DefaultQueues), RxDesc: deref(rp.RxDesc, DefaultDesc),
			TxDesc: deref(rp.TxDesc, DefaultDesc), MTU: deref(rp.MTU, DefaultMTU)}
		if err := ctl.CheckPortName(p.Name); err != nil {
			v.err(key+".name", err)
		} else if _, dup := f.Port(p.Name); dup {
			v.errf(key+".name", "port %q is defined twice", p.Name)
		}
		switch {
		case p.Device == "":
			v.errf(key+".device", "missing; give a vdev such as \"net_tap0,iface=gw0\" or a PCI address such as \"0000:01:00.0\"")
		case pciRE.MatchString(p.Device):
			p.PCI = true
		case !vdevRE.MatchString(p.Device):
			v.errf(key+".device", "%q is neither a PCI address (0000:01:00.0) nor a vdev (driver name ending in a digit, then ,options: net_tap0,iface=gw0)", p.Device)
		}
		devName, _, _ := strings.Cut(p.Device, ",")
		for _, o := range f.Ports {
			if oName, _, _ := strings.Cut(o.Device, ","); p.Device != "" && oName == devName {
				v.errf(key+".device", "device %q is already used by port %q", devName, o.Name)
			}
		}
		if p.Queues < 1 || p.Queues > MaxQueues {
			v.errf(key+".queues", "%d out of range 1-%d", p.Queues, MaxQueues)
		}
		for _, d := range []struct {
			k string
			n int
		}{{".rx_desc", p.RxDesc}, {".tx_desc", p.TxDesc}} {
			if !isPow2(d.n) || d.n < 64 || d.n > 16384 {
				v.errf(key+d.k, "%d must be a power of two from 64 to 16384", d.n)
			}
		}
		if p.MTU < 68 || p.MTU > MaxMTU {
			v.errf(key+".mtu", "%d out of range 68-%d", p.MTU, MaxMTU)
		}
		p.KernelIface, p.VIPARP = rp.KernelIface, rp.VIPARP
		if p.VIPARP == "" {
			p.VIPARP = VIPARPService
		}
		if k := p.KernelIface; k != "" {
			if len(k) > MaxIfaceName || !ifaceRE.MatchString(k) {
				v.errf(key+".kernel_iface", "%q is not an interface name: 1 to %d letters, digits, '_', '-' or '.'", k, MaxIfaceName)
			}
			for _, o := range f.Ports {
				if o.KernelIface == k {
					v.errf(key+".kernel_iface", "%q is already the kernel interface of port %q", k, o.Name)
				}
			}
		}
		switch p.VIPARP {
		case VIPARPService:
		case VIPARPKernel:
			if p.KernelIface == "" {
				v.errf(key+".vip_arp", "%q needs kernel_iface: the VIPs answered are those on the port's kernel interface", p.VIPARP)
			}
		default:
			v.errf(key+".vip_arp", "%q: use %q (every VIP of a service) or %q (VIPs on the kernel interface)", p.VIPARP, VIPARPService, VIPARPKernel)
		}
		if rp.MAC != "" {
			m, err := ctl.ParseMAC(rp.MAC)
			switch {
			case err != nil:
				v.err(key+".mac", err)
			case !m.IsUnicast():
				v.errf(key+".mac", "%s is not a unicast address (the first octet must be even, not all zero)", m)
			default:
				p.MAC = m
			}
		}
		for j, s := range rp.Addrs {
			akey := fmt.Sprintf("%s.addrs[%d]", key, j)
			pfx, err := ctl.ParsePrefix(s)
			if err != nil {
				v.err(akey, err)
				continue
			}
			if err := ctl.Served(pfx.Addr()); err != nil {
				v.err(akey, err)
				continue
			}
			for _, o := range f.LB.Addrs {
				if o.Prefix.Masked().Overlaps(pfx.Masked()) && o.Port != p.Name {
					v.errf(akey, "%s overlaps %s on port %s; subnets of different ports must not overlap", pfx, o.Prefix, o.Port)
				}
			}
			if err := f.LB.AddAddr(ctl.Addr{Prefix: pfx, Port: p.Name}); err != nil {
				v.err(akey, err)
				continue
			}
			p.Addrs = append(p.Addrs, pfx)
		}
		f.Ports = append(f.Ports, p)
	}
}

func (v *validator) workers(raw *rawFile, f *File) {
	if len(f.EAL.Lcores) < 2 {
		return // reported by eal
	}
	workerLcores := f.EAL.Lcores[1:]
	if len(raw.Workers) == 0 {
		// Default: worker i polls queue i of every port.
		for i, l := range workerLcores {
			w := Worker{Lcore: l}
			for _, p := range f.Ports {
				w.Rx = append(w.Rx, PortQueue{p.Name, i})
			}
			f.Workers = append(f.Workers, w)
		}
		for i, p := range f.Ports {
			if p.Queues >= 1 && p.Queues <= MaxQueues && p.Queues != len(workerLcores) {
				v.errf(fmt.Sprintf("port[%d].queues", i), "port %s has %d queue(s) but eal.lcores has %d worker lcore(s); with the default mapping (worker i polls queue i of every port) set queues = %d, or map queues in [[worker]] sections",
					p.Name, p.Queues, len(workerLcores), len(workerLcores))
			}
		}
		return
	}
	polled := map[PortQueue]int{}
	for i, rw := range raw.Workers {
		key := fmt.Sprintf("worker[%d]", i)
		var w Worker
		switch {
		case rw.Lcore == nil:
			v.errf(key+".lcore", "missing")
		case *rw.Lcore == f.ControlLcore():
			v.errf(key+".lcore", "lcore %d is the control lcore (the first of eal.lcores); workers use the others: %v", *rw.Lcore, workerLcores)
		case !slices.Contains(workerLcores, *rw.Lcore):
			v.errf(key+".lcore", "lcore %d is not in eal.lcores %q", *rw.Lcore, f.EAL.LcoresText)
		case slices.ContainsFunc(f.Workers, func(o Worker) bool { return o.Lcore == *rw.Lcore }):
			v.errf(key+".lcore", "lcore %d has two [[worker]] sections", *rw.Lcore)
		default:
			w.Lcore = *rw.Lcore
		}
		if len(rw.Rx) == 0 {
			v.errf(key+".rx", "missing; list the queues this worker polls, e.g. rx = [\"dpdk0:0\"]")
		}
		for j, s := range rw.Rx {
			rkey := fmt.Sprintf("%s.rx[%d]", key, j)
			name, qs, ok := strings.Cut(s, ":")
			q, err := strconv.Atoi(qs)
			if !ok || err != nil || q < 0 {
				v.errf(rkey, "%q: want PORT:QUEUE, e.g. \"dpdk0:0\"", s)
				continue
			}
			p, ok := f.Port(name)
			switch {
			case !ok:
				v.errf(rkey, "%q: no port named %q", s, name)
			case q >= p.Queues:
				v.errf(rkey, "%q: port %s has %d queue(s), numbered from 0", s, name, p.Queues)
			case polled[PortQueue{name, q}] > 0:
				v.errf(rkey, "%q is already polled by worker[%d]; each queue has exactly one worker", s, polled[PortQueue{name, q}]-1)
			default:
				polled[PortQueue{name, q}] = i + 1
				w.Rx = append(w.Rx, PortQueue{name, q})
			}
		}
		f.Workers = append(f.Workers, w)
	}
	for _, l := range workerLcores {
		if !slices.ContainsFunc(raw.Workers, func(w rawWorker) bool { return w.Lcore != nil && *w.Lcore == l }) {
			v.errf("worker", "lcore %d is in eal.lcores but has no [[worker]] section", l)
		}
	}
	for i, p := range f.Ports {
		for q := range p.Queues {
			if polled[PortQueue{p.Name, q}] == 0 {
				v.errf(fmt.Sprintf("port[%d].queues", i), "queue %s:%d is polled by no worker; add it to a [[worker]] rx list or lower queues", p.Name, q)
			}
		}
	}
}

func (v *validator) routes(raw *rawFile, f *File) {
	for i, rr := range raw.Routes {
		key := fmt.Sprintf("route[%d]", i)
		var r ctl.Route
		pfx, err := ctl.ParsePrefix(rr.Prefix)
		if err != nil {
			v.err(key+".prefix", err)
			continue
		}
		if err := ctl.Served(pfx.Addr()); err != nil {
			v.err(key+".prefix", err)
			continue
		}
		if pfx != pfx.Masked() {
			v.errf(key+".prefix", "%s has host bits set; did you mean %s?", pfx, pfx.Masked())
			continue
		}
		r.Prefix = pfx
		if rr.Via != "" {
			if r.Via, err = ctl.ParseIP(rr.Via); err != nil {
				v.err(key+".via", err)
				continue
			}
		}
		r.Port = rr.Port
		switch {
		case r.Port == "" && r.Via.IsValid():
			port, ok := f.LB.Connected(r.Via)
			if !ok {
				v.errf(key+".via", "gateway %s is on no port's subnet; add an address on its subnet to a port's addrs", r.Via)
				continue
			}
			r.Port = port
		case r.Port == "":
			v.errf(key+".port", "missing; a route without via needs the port it leaves by")
			continue
		default:
			if _, ok := f.Port(r.Port); !ok {
				v.errf(key+".port", "no port named %q", r.Port)
				continue
			}
		}
		if err := f.LB.AddRoute(r); err != nil {
			v.err(key, err)
		}
	}
}

// marks reads the [[mark]] rules, in order.
func (v *validator) marks(raw *rawFile, f *File) {
	for i, rm := range raw.Marks {
		key := fmt.Sprintf("mark[%d]", i)
		var r ctl.MarkRule
		bad := false
		if rm.Mark < 1 || rm.Mark > math.MaxUint32 {
			v.errf(key+".mark", "%d out of range 1-%d", rm.Mark, uint32(math.MaxUint32))
			bad = true
		}
		r.Mark = uint32(rm.Mark)
		if rm.Proto != "" {
			p, err := ctl.ParseProto(rm.Proto)
			if err != nil {
				v.err(key+".proto", err)
				bad = true
			}
			r.Proto = p
		}
		for _, x := range []struct {
			name, val string
			dst       *netip.Prefix
		}{{"dst", rm.Dst, &r.Dst}, {"src", rm.Src, &r.Src}} {
			if x.val == "" {
				continue
			}
			p, err := netip.ParsePrefix(x.val)
			if err != nil {
				v.errf(key+"."+x.name, "%q is not a prefix such as \"198.18.0.0/24\"", x.val)
				bad = true
			}
			*x.dst = p
		}
		if rm.DPort != "" {
			pr, err := ctl.ParsePortRange(rm.DPort)
			if err != nil {
				v.err(key+".dport", err)
				bad = true
			}
			r.DPort = pr
		}
		if !bad {
			if err := f.LB.AddMark(r); err != nil {
				v.err(key, err)
			}
		}
	}
}

func (v *validator) neighs(raw *rawFile, f *File) {
	for i, rn := range raw.Neighs {
		key := fmt.Sprintf("neigh[%d]", i)
		a, err := ctl.ParseIP(rn.Addr)
		if err != nil {
			v.err(key+".addr", err)
			continue
		}
		m, err := ctl.ParseMAC(rn.MAC)
		if err != nil {
			v.err(key+".mac", err)
			continue
		}
		if _, ok := f.Port(rn.Port); !ok {
			v.errf(key+".port", "no port named %q", rn.Port)
			continue
		}
		if p, ok := f.LB.Connected(a); !ok || p != rn.Port {
			v.errf(key+".addr", "%s is not on a subnet of port %s", a, rn.Port)
			continue
		}
		if err := f.LB.AddNeigh(ctl.Neigh{Addr: a, MAC: m, Port: rn.Port}); err != nil {
			v.err(key, err)
		}
	}
}

func (v *validator) ctl(raw *rawFile, f *File) {
	f.Ctl.Socket = deref(raw.Ctl.Socket, DefaultSocket)
	if !filepath.IsAbs(f.Ctl.Socket) || strings.HasSuffix(f.Ctl.Socket, "/") {
		v.errf("ctl.socket", "%q must be an absolute file path, e.g. %q", f.Ctl.Socket, DefaultSocket)
	}
	f.Ctl.RestoreFile = raw.Ctl.RestoreFile
	if r := f.Ctl.RestoreFile; r != "" && !filepath.IsAbs(r) {
		v.errf("ctl.restore_file", "%q must be an absolute file path, e.g. \"/etc/fngw/rules.ipvsadm\"", r)
	}
	f.Ctl.Metrics = deref(raw.Ctl.Metrics, DefaultMetrics)
	if m := f.Ctl.Metrics; m != "" {
		host, port, err := net.SplitHostPort(m)
		n, perr := strconv.Atoi(port)
		_, herr := netip.ParseAddr(host)
		if err != nil || perr != nil || n < 1 || n > 65535 || (host != "" && herr != nil) {
			v.errf("ctl.metrics", "%q: want IP:PORT such as %q, or \"\" to disable the metrics endpoint", m, DefaultMetrics)
		}
	}
}

func (v *validator) session(raw *rawFile, f *File) {
	f.Session.CapacityPerCore = deref(raw.Session.CapacityPerCore, DefaultSessions)
	if c := f.Session.CapacityPerCore; !isPow2(c) || c < 1024 || c > MaxSessionsPerCore {
		v.errf("session.capacity_per_core", "%d must be a power of two from 1024 to %d", c, MaxSessionsPerCore)
	}
	t := ctl.DefaultTimeouts
	for _, x := range []struct {
		key string
		p   *int
		dst *uint32
	}{{"session.tcp_timeout", raw.Session.TCPTimeout, &t.TCP}, {"session.tcp_fin_timeout", raw.Session.TCPFinTimeout, &t.TCPFin},
		{"session.udp_timeout", raw.Session.UDPTimeout, &t.UDP}, {"session.tcp_syn_recv_timeout", raw.Session.SynRecvTimeout, &t.SynRecv},
		{"session.udp_oneway_timeout", raw.Session.UDPOneway, &t.UDPOneway}} {
		if x.p == nil {
			continue
		}
		if *x.p < 1 || *x.p > ctl.MaxTimeout {
			v.errf(x.key, "%d out of range 1-%d seconds", *x.p, ctl.MaxTimeout)
			continue
		}
		*x.dst = uint32(*x.p)
	}
	f.LB.Timeouts = t
	rs := &raw.Session
	f.LB.Sysctl = ctl.Sysctl{ExpireNodestConn: rs.ExpireNodestConn, ExpireQuiescentTemplate: rs.ExpireQuiescentTemplate,
		SecureTCP: rs.SecureTCP, LooseIngress: rs.LooseIngress}
	for _, x := range []struct {
		key string
		p   *int
		dst *uint32
	}{{"lblc_expiration", rs.LBLCExpiration, &f.LB.Sysctl.LBLCExpiration}, {"lblcr_expiration", rs.LBLCRExpiration, &f.LB.Sysctl.LBLCRExpiration}} {
		if x.p == nil {
			continue
		}
		if *x.p < 1 || *x.p > ctl.MaxTimeout {
			v.errf("session."+x.key, "%d out of range 1-%d seconds", *x.p, ctl.MaxTimeout)
			continue
		}
		*x.dst = uint32(*x.p)
	}
}

// neededMbufs is what can hold mbufs at once: the ports' rx and tx
// descriptor rings, the per-lcore caches, the rings between lcores
// (RedirectRing, ControlRing, ARPRing), the stack's queue of packets
// waiting for a next hop (StackQueue), and each worker's buffers within a
// turn. Values out of range (already reported) count as their limits so
// that the sum cannot overflow.
func neededMbufs(f *File, cache int) int {
	clamp := func(x, lo, hi int) int { return max(lo, min(x, hi)) }
	n := 0
	for _, p := range f.Ports {
		n += clamp(p.Queues, 1, MaxQueues)*clamp(p.RxDesc, 64, 16384) + len(f.Workers)*clamp(p.TxDesc, 64, 16384)
	}
	w := clamp(len(f.Workers), 1, MaxLcore)
	n += w*(w-1)*(RedirectRing-1) + w*(2*(ControlRing-1)+ARPRing-1) + StackQueue
	n += w * (len(f.Ports) + w + 3) * TurnBuffer
	return n + len(f.EAL.Lcores)*(clamp(cache, 0, 512)+64)
}

func (v *validator) pool(raw *rawFile, f *File) {
	mtu := DefaultMTU
	for _, p := range f.Ports {
		if p.MTU <= MaxMTU { // a larger one is reported already
			mtu = max(mtu, p.MTU)
		}
	}
	f.Pool.DataRoom = DataRoomFor(mtu)
	defer v.poolMemory(f, mtu)
	f.Pool.CacheSize = deref(raw.Pool.CacheSize, DefaultMbufCache)
	if c := f.Pool.CacheSize; c < 0 || c > 512 {
		v.errf("pool.cache_size", "%d out of range 0-512 (RTE_MEMPOOL_CACHE_MAX_SIZE)", c)
	}
	need := neededMbufs(f, f.Pool.CacheSize)
	if raw.Pool.Mbufs == nil {
		// A power of two minus one is the most memory-efficient mempool size.
		n := 1
		for n-1 < need+need/2 {
			n <<= 1
		}
		f.Pool.Mbufs = n - 1
		return
	}
	f.Pool.Mbufs = *raw.Pool.Mbufs
	if f.Pool.Mbufs < need {
		v.errf("pool.mbufs", "%d is too few: the rx and tx rings and lcore caches alone hold up to %d; raise it or remove the key to size it automatically", f.Pool.Mbufs, need)
	}
}

// poolMemory refuses a pool the EAL's memory cannot hold (eal.memory_mb):
// DPDK would fail at start with a message naming neither.
func (v *validator) poolMemory(f *File, mtu int) {
	if f.EAL.MemoryMB < 64 {
		return // reported already
	}
	need := int64(f.Pool.Mbufs) * int64(f.Pool.DataRoom+mbufOverhead)
	// The EAL needs some more for the rings, the ports' queues and itself.
	const reserve = 64 << 20
	if have := int64(f.EAL.MemoryMB) << 20; need+reserve > have {
		v.errf("eal.memory_mb", "%d MiB cannot hold the mbuf pool: %d mbufs of %d bytes (for MTU %d) take %d MiB, and the EAL needs %d MiB beside it; raise memory_mb to %d or lower the MTU or pool.mbufs",
			f.EAL.MemoryMB, f.Pool.Mbufs, f.Pool.DataRoom+mbufOverhead, mtu, need>>20, reserve>>20, (need+reserve)>>20+1)
	}
}

func (v *validator) services(raw *rawFile, f *File) {
	for i, rs := range raw.Services {
		key := fmt.Sprintf("service[%d]", i)
		var s ctl.Service
		var err error
		bad := false
		if rs.Proto == "" {
			rs.Proto = "tcp" // as ipvsadm's -t is the common case
		}
		if s.Proto, err = ctl.ParseProto(rs.Proto); err != nil {
			v.err(key+".proto", err)
			bad = true
		}
		switch {
		case rs.FwMark != 0 && rs.VIP != "":
			v.errf(key+".fwmark", "%d given with vip %q: a firewall-mark service has no address; give one of them", rs.FwMark, rs.VIP)
			bad = true
		case rs.FwMark < 0 || rs.FwMark > math.MaxUint32:
			v.errf(key+".fwmark", "%d out of range 1-%d", rs.FwMark, uint32(math.MaxUint32))
			bad = true
		case rs.FwMark != 0:
			s.FwMark = uint32(rs.FwMark)
		default:
			ap, err := netip.ParseAddrPort(rs.VIP)
			if err != nil {
				v.errf(key+".vip", "%q: want ADDR:PORT, e.g. \"198.18.1.100:80\" (port 0 = all ports, needs persistent), or fwmark = MARK", rs.VIP)
				bad = true
			} else if err := ctl.Served(ap.Addr()); err != nil {
				v.err(key+".vip", err)
				bad = true
			}
			s.VIP, s.Port = ap.Addr().Unmap(), ap.Port()
		}
		s.Sched, s.Flags, s.OnePacket = rs.Sched, rs.Flags, rs.OPS
		if rs.Persistent < 0 || rs.Persistent > ctl.MaxTimeout {
			v.errf(key+".persistent", "%d out of range 0-%d seconds (0 = not persistent)", rs.Persistent, ctl.MaxTimeout)
			bad = true
		} else if rs.Persistent > 0 {
			s.Persistent, s.Timeout = true, uint32(rs.Persistent)
		}
		if rs.Netmask != "" {
			switch {
			case !s.Persistent:
				v.errf(key+".netmask", "%q given without persistent; the netmask is the persistence granularity", rs.Netmask)
				bad = true
			case s.VIP.IsValid():
				if s.Netmask, err = ctl.ParseMask(s.VIP, rs.Netmask); err != nil {
					v.err(key+".netmask", err)
					bad = true
				}
			}
		}
		if rs.ProxyProtocol != "" {
			if s.ProxyProtocol, err = ctl.ParseProxyVersion(rs.ProxyProtocol); err != nil {
				v.err(key+".proxy_protocol", err)
				bad = true
			}
		}
		s.TOA = rs.TOA
		if !v.health(key, &rs, &s) {
			bad = true
		}
		// Destinations and local addresses are checked even when the
		// service itself is not, so that every problem is reported at once.
		if !bad {
			if err := f.LB.AddService(s); err != nil {
				field := ".vip"
				switch {
				case strings.Contains(err.Error(), "scheduler flag"):
					field = ".flags"
				case strings.Contains(err.Error(), "scheduler"):
					field = ".sched"
				case strings.Contains(err.Error(), "--toa"), strings.Contains(err.Error(), "TOA is"):
					field = ".toa"
				case strings.Contains(err.Error(), "PROXY"), strings.Contains(err.Error(), "TOA"):
					field = ".proxy_protocol"
				}
				v.err(key+field, err)
				bad = true
			}
		}
		k := s.Key()
		for j, rd := range rs.Dests {
			dkey := fmt.Sprintf("%s.dest[%d]", key, j)
			var d ctl.Dest
			d.Addr, d.Port, err = parseDestAddr(rd.Addr, s.Port)
			if err != nil {
				v.err(dkey+".addr", err)
				continue
			}
			if rd.Fwd == "" {
				v.errf(dkey+".fwd", "missing; use one of fullnat, masq, route, tunnel")
				continue
			}
			if d.Fwd, err = ctl.ParseFwdMode(rd.Fwd); err != nil {
				v.err(dkey+".fwd", err)
				continue
			}
			d.Weight = deref(rd.Weight, DefaultWeight)
			if rd.UThreshold < 0 || rd.LThreshold < 0 {
				v.errf(dkey, "thresholds must not be negative")
				continue
			}
			d.UThresh, d.LThresh = uint32(rd.UThreshold), uint32(rd.LThreshold)
			if err := ctl.Served(d.Addr); err != nil {
				v.err(dkey+".addr", err)
				continue
			}
			if rd.Check != nil {
				c, ok := v.destCheck(dkey+".check", rs.Check, rd.Check)
				if !ok {
					continue
				}
				d.Check = c
			}
			if !bad {
				if err := f.LB.AddDest(k, d); err != nil {
					v.err(dkey, err)
				}
			}
		}
		for j, sl := range rs.Laddrs {
			lkey := fmt.Sprintf("%s.laddrs[%d]", key, j)
			l, err := v.laddr(f, sl)
			if err != nil {
				v.err(lkey, err)
				continue
			}
			if !bad {
				if err := f.LB.AddLaddr(k, l); err != nil {
					v.err(lkey, err)
				}
			}
		}
	}
}

// health reads a service's health keys and its [service.check] into s,
// reporting every problem; false when there was one.
func (v *validator) health(key string, rs *rawService, s *ctl.Service) bool {
	n := len(v.errs)
	h := &s.Health
	if rs.Quorum != nil {
		if *rs.Quorum < 1 || *rs.Quorum > 1<<31-1 {
			v.errf(key+".quorum", "%d must be at least 1 (the weight of the destinations up below which the sorry server takes over)", *rs.Quorum)
		} else {
			h.Quorum = *rs.Quorum
		}
	}
	if rs.SorryServer != "" {
		a, port, err := parseDestAddr(rs.SorryServer, s.Port)
		ap := netip.AddrPortFrom(a, port)
		if err == nil {
			err = ctl.CheckSorryServer(ap)
		}
		if err != nil {
			v.err(key+".sorry_server", err)
		} else {
			h.SorryServer = ap
		}
	}
	h.Alpha = rs.Alpha
	for _, n := range []struct {
		key string
		p   *string
		dst *string
	}{{".notify_up", rs.NotifyUp, &h.NotifyUp}, {".notify_down", rs.NotifyDown, &h.NotifyDown}} {
		if n.p == nil {
			continue
		}
		if len(ctl.SplitCommand(*n.p)) == 0 {
			v.errf(key+n.key, "%q names no command; give the script to run and its arguments", *n.p)
			continue
		}
		*n.dst = *n.p
	}
	if rs.Check != nil {
		c, probs := toCheck(rs.Check)
		for _, p := range probs {
			v.errf(key+".check."+p.Key, "%s", p.Msg)
		}
		if len(probs) == 0 {
			h.Check = c
		}
	}
	return len(v.errs) == n
}

// destCheck reads a [service.dest.check]: a table with a type is the
// destination's whole check; without one, its keys amend the service's
// check (svc, which may be nil) key by key. Problems are reported at the
// destination's keys; those of the service's own keys were reported with
// the service.
func (v *validator) destCheck(key string, svc, dest *rawCheck) (ctl.Check, bool) {
	r := *dest
	if dest.Type == nil && svc != nil {
		r = overlayCheck(*svc, *dest)
	}
	c, probs := toCheck(&r)
	set := dest.keys()
	_, svcProbs := toCheck(svc)
	for _, p := range probs {
		if set[p.Key] || dest.Type != nil || len(svcProbs) == 0 {
			v.errf(key+"."+p.Key, "%s", p.Msg)
		}
	}
	return c, len(probs) == 0
}

// overlayCheck is base with every key over sets.
func overlayCheck(base, over rawCheck) rawCheck {
	pick := func(b, o *string) *string {
		if o != nil {
			return o
		}
		return b
	}
	pickInt := func(b, o *int) *int {
		if o != nil {
			return o
		}
		return b
	}
	r := base
	r.Port = pickInt(base.Port, over.Port)
	r.Rise, r.Fall = pickInt(base.Rise, over.Rise), pickInt(base.Fall, over.Fall)
	if over.ExpectStatus != nil {
		r.ExpectStatus = over.ExpectStatus
	}
	for _, f := range []struct{ dst, b, o **string }{{&r.Path, &base.Path, &over.Path},
		{&r.ExpectBodyRegex, &base.ExpectBodyRegex, &over.ExpectBodyRegex}, {&r.Digest, &base.Digest, &over.Digest},
		{&r.Interval, &base.Interval, &over.Interval}, {&r.Timeout, &base.Timeout, &over.Timeout},
		{&r.OnFailure, &base.OnFailure, &over.OnFailure}, {&r.Source, &base.Source, &over.Source},
		{&r.Payload, &base.Payload, &over.Payload}, {&r.Expect, &base.Expect, &over.Expect},
		{&r.Name, &base.Name, &over.Name}, {&r.QType, &base.QType, &over.QType}, {&r.Command, &base.Command, &over.Command}} {
		*f.dst = pick(*f.b, *f.o)
	}
	return r
}

// keys are the keys r sets.
func (r *rawCheck) keys() map[string]bool {
	return map[string]bool{"type": r.Type != nil, "port": r.Port != nil, "path": r.Path != nil,
		"expect_status": r.ExpectStatus != nil, "expect_body_regex": r.ExpectBodyRegex != nil, "digest": r.Digest != nil,
		"interval": r.Interval != nil, "timeout": r.Timeout != nil, "rise": r.Rise != nil, "fall": r.Fall != nil,
		"on_failure": r.OnFailure != nil, "source": r.Source != nil, "payload": r.Payload != nil, "expect": r.Expect != nil,
		"name": r.Name != nil, "qtype": r.QType != nil, "command": r.Command != nil}
}

// toCheck turns a check table into a Check with the defaults of its type
// and lists its problems by key (nil r: no check).
func toCheck(r *rawCheck) (ctl.Check, []ctl.CheckProblem) {
	var c ctl.Check
	if r == nil {
		return c, nil
	}
	var probs []ctl.CheckProblem
	bad := func(key, format string, a ...any) {
		probs = append(probs, ctl.CheckProblem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if r.Type == nil {
		bad("type", "missing; use one of tcp, http, https, udp, dns, misc, none")
		return c, probs
	}
	c.Type = ctl.CheckType(*r.Type)
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	c.Path, c.ExpectBodyRegex, c.Name, c.QType, c.Command = str(r.Path), str(r.ExpectBodyRegex), str(r.Name), str(r.QType), str(r.Command)
	c.Digest, c.Payload, c.Expect = strings.ToLower(str(r.Digest)), strings.ToLower(str(r.Payload)), strings.ToLower(str(r.Expect))
	c.OnFailure = ctl.OnFailure(str(r.OnFailure))
	if r.Port != nil {
		if *r.Port < 1 || *r.Port > 65535 {
			bad("port", "%d out of range 1-65535 (leave it out to check the destination's port)", *r.Port)
		} else {
			c.Port = uint16(*r.Port)
		}
	}
	if r.ExpectStatus != nil {
		if len(*r.ExpectStatus) == 0 {
			bad("expect_status", "empty; list the statuses expected, or leave it out for any 2xx")
		}
		for _, code := range *r.ExpectStatus {
			if err := c.ExpectStatus.Add(code); err != nil {
				bad("expect_status", "%v", err)
			}
		}
	}
	if r.Source != nil {
		a, err := netip.ParseAddr(*r.Source)
		if err != nil {
			bad("source", "%q is not an IPv4 address", *r.Source)
		} else {
			c.Source = a
		}
	}
	dur := func(key string, p *string) (ctl.Duration, bool) {
		if p == nil {
			return 0, false
		}
		d, err := time.ParseDuration(*p)
		if err != nil {
			bad(key, "%q is not a duration such as \"2s\" or \"500ms\"", *p)
			return 0, false
		}
		return ctl.Duration(d), true
	}
	iv, ivSet := dur("interval", r.Interval)
	to, toSet := dur("timeout", r.Timeout)
	c.Interval, c.Timeout = iv, to
	if c.Type != ctl.CheckNone {
		c = c.WithDefaults()
	}
	// What was written stays as written, even a zero the defaults replaced,
	// so that Problems names it.
	if ivSet {
		c.Interval = iv
	}
	if toSet {
		c.Timeout = to
	}
	if r.Rise != nil {
		c.Rise = *r.Rise
	}
	if r.Fall != nil {
		c.Fall = *r.Fall
	}
	if len(probs) > 0 {
		return c, probs
	}
	return c, c.Problems()
}

// parseDestAddr parses "ADDR[:PORT]"; without a port the service port is
// used, as ipvsadm does.
func parseDestAddr(s string, svcPort uint16) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Port(), nil
	}
	a, err := ctl.ParseIP(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q: want ADDR or ADDR:PORT, e.g. \"10.0.0.1:8080\"", s)
	}
	return a, svcPort, nil
}

// laddr parses "ADDR dev PORT" or a bare "ADDR", whose port is the one
// whose subnet contains it, or the only port.
func (v *validator) laddr(f *File, s string) (ctl.LocalAddr, error) {
	if strings.Contains(s, " dev ") {
		l, err := ctl.ParseLocalAddr(s)
		if err != nil {
			return l, err
		}
		if _, ok := f.Port(l.Port); !ok {
			return l, fmt.Errorf("%q: no port named %q", s, l.Port)
		}
		return l, ctl.Served(l.Addr)
	}
	a, err := ctl.ParseIP(s)
	if err != nil {
		return ctl.LocalAddr{}, fmt.Errorf("%q: want ADDR or \"ADDR dev PORT\", e.g. \"198.18.1.10 dev dpdk0\"", s)
	}
	if err := ctl.Served(a); err != nil {
		return ctl.LocalAddr{}, err
	}
	if p, ok := f.LB.Connected(a); ok {
		return ctl.LocalAddr{Addr: a, Port: p}, nil
	}
	if len(f.Ports) == 1 {
		return ctl.LocalAddr{Addr: a, Port: f.Ports[0].Name}, nil
	}
	return ctl.LocalAddr{}, fmt.Errorf("%q is on no port's subnet, so its port is ambiguous; write \"%s dev PORT\"", s, a)
}

// EALArgs returns the EAL argument vector, program name first: -l LCORES (or
// --lcores LCORE@CPU,... when eal.lcores maps lcores to CPUs)
// --main-lcore FIRST, --no-huge -m MB (or -m MB with hugepages),
// --file-prefix, one --vdev per vdev port and -a per PCI port (--no-pci when
// there is none), then eal.args. DPDK numbers ports PCI devices first, then
// vdevs in the order given; look ports up by device name, not by order.
func (f *File) EALArgs(prog string) []string {
	a := []string{prog, "-l", f.EAL.LcoresText, "--main-lcore", strconv.Itoa(f.ControlLcore())}
	if f.EAL.CPUs != nil {
		var m []string
		for _, l := range f.EAL.Lcores {
			m = append(m, fmt.Sprintf("%d@%d", l, f.CPU(l)))
		}
		a[1], a[2] = "--lcores", strings.Join(m, ",")
	}
	if f.EAL.Hugepages {
		a = append(a, "-m", strconv.Itoa(f.EAL.MemoryMB))
	} else {
		a = append(a, "--no-huge", "-m", strconv.Itoa(f.EAL.MemoryMB))
	}
	a = append(a, "--file-prefix", f.EAL.FilePrefix)
	pci := false
	for _, p := range f.Ports {
		if p.PCI {
			a = append(a, "-a", p.Device)
			pci = true
		} else {
			a = append(a, "--vdev", p.Device)
		}
	}
	if !pci {
		a = append(a, "--no-pci")
	}
	return append(a, f.EAL.Args...)
}

// DeviceName is the DPDK device name of a port (its device string up to the
// first comma), for rte_eth_dev_get_port_by_name.
func (p *Port) DeviceName() string {
	n, _, _ := strings.Cut(p.Device, ",")
	return n
}
