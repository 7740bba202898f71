package plane

import (
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"fngw/ctl"
	"fngw/lcore"
	"fngw/nat"
)

// Collector returns the plane's Prometheus collector: it reads every counter
// at scrape time — port statistics from the host, per-core counters from the
// workers and nat cores (atomic loads of values the cores publish), service
// and destination counters through a job on the control goroutine. Nothing
// is touched from the packet loop.
//
// A scrape gathers at most once per MetricsInterval; scrapes closer together
// (several Prometheus servers, a dashboard refreshing) are served the same
// figures, so however many there are, the control lcore runs at most one
// metrics job per interval.
func (p *Plane) Collector() prometheus.Collector {
	return &collector{p: p, build: buildLabels()}
}

// MetricsInterval is the shortest time between two gatherings of the
// metrics.
const MetricsInterval = time.Second

type collector struct {
	p      *Plane
	build  []string // fngw_build_info's label values, read once
	mu     sync.Mutex
	at     time.Time // guarded by mu, as cached
	cached []prometheus.Metric
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fngw_"+name, help, labels, nil)
}

// The labels of services and destinations are node_exporter's (its IPVS
// collector's backend labels), so that dashboards and alerts written for LVS
// carry over: local_address and local_port are the VIP and its port,
// remote_address and remote_port the real server's, proto is TCP or UDP as
// ipvsadm prints it, and local_mark is a firewall-mark service's mark (a
// mark service has local_address "", local_port "0" and proto "FWM", as in
// /proc/net/ip_vs).
var (
	svcLabels  = []string{"local_address", "local_port", "proto", "local_mark"}
	destLabels = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}
	laddrLabel = append(slices.Clone(svcLabels), "laddr")
)

var (
	dBuild        = desc("build_info", "Always 1; the labels say which build of fngw runs.", "version", "revision", "goversion")
	dStart        = desc("start_time_seconds", "Unix time at which the gateway's control plane first applied its configuration.")
	dReloadOK     = desc("config_last_reload_successful", "Whether the last configuration reload (SIGHUP, gw reload) succeeded: 0 when the file was refused or named settings that need a restart.")
	dReloadAt     = desc("config_last_reload_success_timestamp_seconds", "Unix time of the last successful configuration load (the start counts as one).")
	dPortUp       = desc("port_up", "Whether the port's link is up (1) or down (0).", "port")
	dPortSpeed    = desc("port_speed_bytes", "The port's link speed in bytes per second, where the device reports one.", "port")
	dPortRxPkts   = desc("port_rx_packets_total", "Packets received by the port.", "port")
	dPortTxPkts   = desc("port_tx_packets_total", "Packets sent by the port.", "port")
	dPortRxBytes  = desc("port_rx_bytes_total", "Bytes received by the port.", "port")
	dPortTxBytes  = desc("port_tx_bytes_total", "Bytes sent by the port.", "port")
	dPortImissed  = desc("port_rx_missed_total", "Packets the NIC dropped because rx queues were full (imissed).", "port")
	dPortIerrors  = desc("port_rx_errors_total", "Erroneous received packets (ierrors).", "port")
	dPortOerrors  = desc("port_tx_errors_total", "Failed transmissions (oerrors).", "port")
	dPortNombuf   = desc("port_rx_nombuf_total", "Receive failures for lack of mbufs.", "port")
	dMbufsInUse   = desc("mbufs_in_use", "Mbufs of the pool in use (rings, lcores, the stack's queues, in flight).")
	dMbufsCap     = desc("mbufs_capacity", "Mbufs in the pool, in use or available.")
	dCoreRx       = desc("core_rx_packets_total", "Packets received by the worker.", "core")
	dCoreTx       = desc("core_tx_packets_total", "Packets sent by the worker.", "core")
	dCoreBusy     = desc("core_busy_seconds_total", "Time the worker loop spent on turns that handled packets; rate(busy)/rate(poll) is its utilisation.", "core")
	dCorePoll     = desc("core_poll_seconds_total", "Time the worker loop ran (busy turns, empty polls and idle sleeps).", "core")
	dCoreDrops    = desc("core_drops_total", "Packets dropped by the worker, by reason.", "core", "reason")
	dCoreSess     = desc("core_sessions", "Live sessions in the core's table.", "core")
	dCoreSessCap  = desc("core_session_capacity", "Capacity of the core's session table.", "core")
	dCoreCreated  = desc("core_sessions_created_total", "Sessions created.", "core")
	dCoreExpired  = desc("core_sessions_expired_total", "Sessions ended by their timeout.", "core")
	dCoreEvicted  = desc("core_sessions_evicted_total", "Unreplied sessions (SYN_RECV, UDP_ONEWAY) ended early to make room for new flows (a full table or a service at its quota).", "core")
	dCoreCAddr    = desc("core_client_addr_total", "Client-address options applied toward FULLNAT real servers, by event: proxy_header (PROXY protocol headers inserted), proxy_trimmed (first segments cut to fit one), toa_added, toa_no_room.", "core", "event")
	dCoreReclaim  = desc("core_laddr_ports_reclaimed_total", "Unreplied FULLNAT sessions ended to give a new flow their local port (an exhausted port pool).", "core")
	dNeighEvicted = desc("arp_evicted_total", "Neighbour entries evicted for new ones (a full table, or too many unresolved).")
	dNeighLimited = desc("arp_resolve_limited_total", "Resolutions not started because the port's rate of new resolutions was reached.")
	dARPNotLearnd = desc("arp_not_learned_total", "ARP senders not learned: outside every connected subnet of the port.")
	dCoreRedOut   = desc("redirect_enqueued_total", "Packets handed to another core through its redirect ring.", "core")
	dCoreRedIn    = desc("redirect_received_total", "Packets received from other cores' redirect rings.", "core")
	dCoreICMP     = desc("icmp_translated_total", "ICMP errors translated through a session.", "core")
	dCoreICMPSent = desc("icmp_sent_total", "ICMP errors originated by the datapath (time exceeded, fragmentation needed).", "core")
	dCoreToCtl    = desc("core_to_control_total", "Packets handed to the control lcore.", "core")
	dCtlPanics    = desc("control_job_panics_total", "Control-plane jobs (commands, reloads, scrapes) that failed with an internal error; the gateway went on.")
	dNeighEntries = desc("arp_entries", "Entries in the neighbour table.")
	dNeighQDrops  = desc("arp_queue_drops_total", "Packets dropped because the queue of packets waiting for ARP resolution was full.")
	dNeighFailed  = desc("arp_failed_drops_total", "Queued packets dropped because ARP resolution failed.")
	dNeighReqs    = desc("arp_requests_sent_total", "ARP requests sent.")
	dSvcConns     = desc("service_connections_total", "Connections scheduled by the service.", svcLabels...)
	dSvcInPkts    = desc("service_in_packets_total", "Packets from clients to the service.", svcLabels...)
	dSvcOutPkts   = desc("service_out_packets_total", "Packets from real servers back to clients.", svcLabels...)
	dSvcInBytes   = desc("service_in_bytes_total", "Bytes from clients to the service.", svcLabels...)
	dSvcOutBytes  = desc("service_out_bytes_total", "Bytes from real servers back to clients.", svcLabels...)
	dDestConns    = desc("dest_connections_total", "Connections scheduled to the real server.", destLabels...)
	dDestInPkts   = desc("dest_in_packets_total", "Packets toward the real server.", destLabels...)
	dDestOutPkts  = desc("dest_out_packets_total", "Packets from the real server.", destLabels...)
	dDestInBytes  = desc("dest_in_bytes_total", "Bytes toward the real server.", destLabels...)
	dDestOutBytes = desc("dest_out_bytes_total", "Bytes from the real server.", destLabels...)
	dDestActive   = desc("dest_active_connections", "Active (ESTABLISHED) connections, LVS ActiveConn.", destLabels...)
	dDestInact    = desc("dest_inactive_connections", "Other connections, LVS InActConn.", destLabels...)
	dDestWeight   = desc("dest_weight", "The real server's weight as configured (ipvsadm -w).", destLabels...)
	dDestEffWt    = desc("dest_effective_weight", "The weight the scheduler uses: 0 while the real server is down, else the configured weight.", destLabels...)
	dDestUp       = desc("dest_up", "Whether the real server is up (1) or down (0) for new connections.", destLabels...)
	dLaddrInUse   = desc("laddr_ports_in_use", "Local ports in use on the FULLNAT local address.", laddrLabel...)
	dCheckTrans   = desc("check_transitions_total", "Health-check transitions of the real server (up to down and back) since its checks began.", destLabels...)
	dCheckDur     = desc("check_duration_seconds", "How long health checks took, by checker type.", "type")
)

// serviceLabels are a service's label values, in svcLabels' order.
func serviceLabels(k ctl.ServiceKey) []string {
	if k.FwMark != 0 {
		return []string{"", "0", "FWM", strconv.FormatUint(uint64(k.FwMark), 10)}
	}
	return []string{k.VIP.String(), strconv.Itoa(int(k.Port)), strings.ToUpper(k.Proto.String()), ""}
}

// destLabelValues are a destination's label values, in destLabels' order.
func destLabelValues(svc []string, d ctl.DestKey) []string {
	return []string{svc[0], svc[1], d.Addr.String(), strconv.Itoa(int(d.Port)), svc[2], svc[3]}
}

// buildLabels are fngw_build_info's label values: the main module's version
// and VCS revision as the go command stamped them, and the Go version.
func buildLabels() []string {
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return []string{version, revision, runtime.Version()}
}

// Describe sends nothing: collector is an unchecked collector (its label sets
// follow the configuration), and describing by collecting would need the
// control goroutine, which is not running yet when the registry is built.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.cached == nil || time.Since(c.at) >= MetricsInterval {
		c.cached, c.at = c.gather(), time.Now()
	}
	ms := c.cached
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

// metrics accumulates const metrics.
type metrics []prometheus.Metric

func (m *metrics) add(d *prometheus.Desc, t prometheus.ValueType, v float64, l ...string) {
	*m = append(*m, prometheus.MustNewConstMetric(d, t, v, l...))
}

func (m *metrics) counter(d *prometheus.Desc, v uint64, l ...string) {
	m.add(d, prometheus.CounterValue, float64(v), l...)
}

func (m *metrics) gauge(d *prometheus.Desc, v float64, l ...string) {
	m.add(d, prometheus.GaugeValue, v, l...)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// gather reads every metric: the ports' and cores' counters where they are
// (atomic loads), the stack's, the services' and the reloads' through one
// job on the control goroutine.
func (c *collector) gather() []prometheus.Metric {
	p := c.p
	var ms metrics
	ms.gauge(dBuild, 1, c.build...)
	ms.gauge(dStart, unixSeconds(p.started))
	if links, err := p.host.Links(true); err == nil {
		for _, l := range links {
			n := l.Name
			ms.gauge(dPortUp, boolGauge(l.Up), n)
			if l.Speed > 0 {
				ms.gauge(dPortSpeed, float64(l.Speed)*1e6/8, n)
			}
			s := l.PortCounters
			if s == nil {
				continue
			}
			ms.counter(dPortRxPkts, s.RxPackets, n)
			ms.counter(dPortTxPkts, s.TxPackets, n)
			ms.counter(dPortRxBytes, s.RxBytes, n)
			ms.counter(dPortTxBytes, s.TxBytes, n)
			ms.counter(dPortImissed, s.Imissed, n)
			ms.counter(dPortIerrors, s.Ierrors, n)
			ms.counter(dPortOerrors, s.Oerrors, n)
			ms.counter(dPortNombuf, s.RxNombuf, n)
		}
	}
	inUse, avail := p.host.Mbufs()
	ms.gauge(dMbufsInUse, float64(inUse))
	ms.gauge(dMbufsCap, float64(inUse+avail))
	for i, w := range p.dp.Workers {
		core := strconv.Itoa(i)
		s := w.Stats()
		var ns nat.Stats
		p.dp.Cores[i].AddStats(&ns)
		ms.counter(dCoreRx, s.Rx, core)
		ms.counter(dCoreTx, s.Tx, core)
		ms.add(dCoreBusy, prometheus.CounterValue, float64(s.BusyNs)/1e9, core)
		ms.add(dCorePoll, prometheus.CounterValue, float64(s.TotalNs)/1e9, core)
		// Every reason of both layers, zero or not, so that an alert on a
		// reason has a series from the start; a name both layers use is one
		// series.
		drops := make(map[string]uint64, len(s.Drops)+len(ns.Drops))
		for r, v := range s.Drops {
			drops[lcore.Reason(r).String()] += v
		}
		for r, v := range ns.Drops {
			if nat.DropReason(r) != nat.ReasonNone {
				drops[nat.DropReason(r).String()] += v
			}
		}
		for reason, v := range drops {
			ms.counter(dCoreDrops, v, core, reason)
		}
		ms.gauge(dCoreSess, float64(ns.Sessions), core)
		ms.gauge(dCoreSessCap, float64(p.dp.Cores[i].Table().Cap()), core)
		ms.counter(dCoreCreated, ns.SessionsCreated, core)
		ms.counter(dCoreExpired, ns.SessionsExpired, core)
		ms.counter(dCoreEvicted, ns.SessionsEvicted, core)
		ms.counter(dCoreReclaim, ns.LaddrReclaimed, core)
		ms.counter(dCoreCAddr, ns.ProxyHeaders, core, "proxy_header")
		ms.counter(dCoreCAddr, ns.ProxyTrimmed, core, "proxy_trimmed")
		ms.counter(dCoreCAddr, ns.TOAAdded, core, "toa_added")
		ms.counter(dCoreCAddr, ns.TOANoRoom, core, "toa_no_room")
		ms.counter(dCoreRedOut, s.RedirectOut, core)
		ms.counter(dCoreRedIn, s.RedirectIn, core)
		ms.counter(dCoreICMP, ns.ICMPTranslated, core)
		ms.counter(dCoreICMPSent, ns.ICMPSent, core)
		ms.counter(dCoreToCtl, s.ToControl, core)
		ms.gapMetrics(s)
	}
	ms.runtimeMetrics()
	ms.counter(dCtlPanics, p.dp.Control.Stats().JobPanics)
	var onCtl metrics
	if err := p.dp.Control.Do(func() { onCtl = p.controlMetrics() }); err == nil {
		ms = append(ms, onCtl...)
	}
	return ms
}

// controlMetrics are the metrics of what the control goroutine owns: the
// neighbour table, the reloads, the services and their real servers.
func (p *Plane) controlMetrics() metrics {
	var ms metrics
	ns := p.dp.Stack().Counters().Neigh
	ms.gauge(dNeighEntries, float64(len(p.dp.Stack().Neighs())))
	ms.counter(dNeighQDrops, ns.QueueDrops+ns.TableFull)
	ms.counter(dNeighFailed, ns.FailedDrops)
	ms.counter(dNeighReqs, ns.RequestsSent)
	ms.counter(dNeighEvicted, ns.Evicted)
	ms.counter(dNeighLimited, ns.ResolveLimited)
	ms.counter(dARPNotLearnd, p.dp.Stack().Counters().ARPNotLearned)
	ms.gauge(dReloadOK, boolGauge(p.reloadOK))
	ms.gauge(dReloadAt, unixSeconds(p.loadedAt))
	t := p.table(false)
	for _, ss := range t.Services {
		key := ss.Service.Key()
		svc := serviceLabels(key)
		st := ss.Stats
		ms.counter(dSvcConns, st.Conns, svc...)
		ms.counter(dSvcInPkts, st.InPkts, svc...)
		ms.counter(dSvcOutPkts, st.OutPkts, svc...)
		ms.counter(dSvcInBytes, st.InBytes, svc...)
		ms.counter(dSvcOutBytes, st.OutBytes, svc...)
		for _, ds := range ss.Dests {
			d := destLabelValues(svc, ds.Dest.Key())
			st := ds.Stats
			ms.counter(dDestConns, st.Conns, d...)
			ms.counter(dDestInPkts, st.InPkts, d...)
			ms.counter(dDestOutPkts, st.OutPkts, d...)
			ms.counter(dDestInBytes, st.InBytes, d...)
			ms.counter(dDestOutBytes, st.OutBytes, d...)
			ms.gauge(dDestActive, float64(st.ActiveConns), d...)
			ms.gauge(dDestInact, float64(st.InactConns), d...)
			h := p.health(ss.Service, destKey{key, ds.Dest.Key()}, ds.Dest)
			ms.gauge(dDestWeight, float64(ds.Dest.Weight), d...)
			ms.gauge(dDestEffWt, float64(h.weight), d...)
			ms.gauge(dDestUp, boolGauge(h.up), d...)
			if st := p.chk.states[destKey{key, ds.Dest.Key()}]; st != nil {
				ms.counter(dCheckTrans, st.state.Transitions, d...)
			}
		}
		for _, l := range ss.Laddrs {
			ms.gauge(dLaddrInUse, float64(l.Conns), append(slices.Clone(svc), l.Laddr.Addr.String())...)
		}
	}
	for typ, h := range p.chk.durations {
		ms = append(ms, prometheus.MustNewConstHistogram(dCheckDur, h.n, h.sum, h.buckets(), string(typ)))
	}
	return ms
}

// reloaded records the outcome of a configuration reload for the metrics
// (Prometheus's own convention: the last reload's success, and the time of
// the last successful one). Called on the control goroutine after every
// reload, from SIGHUP or `gw reload` (a dry run is no reload). A reload that
// applied the file but names settings that need a restart failed, as gw
// reload reports it.
func (p *Plane) reloaded(err error) {
	p.reloadOK = err == nil
	if err == nil {
		p.loadedAt = time.Now()
	}
}
