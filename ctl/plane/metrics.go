package plane

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
func (p *Plane) Collector() prometheus.Collector { return &collector{p: p} }

// MetricsInterval is the shortest time between two gatherings of the
// metrics.
const MetricsInterval = time.Second

type collector struct {
	p      *Plane
	mu     sync.Mutex // serializes gatherings; guards at and cached
	at     time.Time
	cached []prometheus.Metric
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fngw_"+name, help, labels, nil)
}

var (
	dPortRxPkts   = desc("port_rx_packets_total", "Packets received by the port.", "port")
	dPortTxPkts   = desc("port_tx_packets_total", "Packets sent by the port.", "port")
	dPortRxBytes  = desc("port_rx_bytes_total", "Bytes received by the port.", "port")
	dPortTxBytes  = desc("port_tx_bytes_total", "Bytes sent by the port.", "port")
	dPortImissed  = desc("port_rx_missed_total", "Packets the NIC dropped because rx queues were full (imissed).", "port")
	dPortIerrors  = desc("port_rx_errors_total", "Erroneous received packets (ierrors).", "port")
	dPortOerrors  = desc("port_tx_errors_total", "Failed transmissions (oerrors).", "port")
	dPortNombuf   = desc("port_rx_nombuf_total", "Receive failures for lack of mbufs.", "port")
	dCoreRx       = desc("core_rx_packets_total", "Packets received by the worker.", "core")
	dCoreTx       = desc("core_tx_packets_total", "Packets sent by the worker.", "core")
	dCoreUtil     = desc("core_loop_utilisation_ratio", "Share of the worker loop's time spent on turns that handled packets, since start.", "core")
	dCoreDrops    = desc("core_drops_total", "Packets dropped by the worker, by reason.", "core", "reason")
	dCoreSess     = desc("core_sessions", "Live sessions in the core's table.", "core")
	dCoreSessCap  = desc("core_session_capacity", "Capacity of the core's session table.", "core")
	dCoreCreated  = desc("core_sessions_created_total", "Sessions created.", "core")
	dCoreRedOut   = desc("redirect_enqueued_total", "Packets handed to another core through its redirect ring.", "core")
	dCoreRedIn    = desc("redirect_received_total", "Packets received from other cores' redirect rings.", "core")
	dCoreICMP     = desc("icmp_translated_total", "ICMP errors translated through a session.", "core")
	dCoreICMPSent = desc("icmp_sent_total", "ICMP errors originated by the datapath (time exceeded, fragmentation needed).", "core")
	dMbufsInUse   = desc("mbufs_in_use", "Mbufs of the pool in use (rings, lcores, the stack's queues, in flight).")
	dCoreToCtl    = desc("core_to_control_total", "Packets handed to the control lcore.", "core")
	dNeighEntries = desc("arp_entries", "Entries in the neighbour table.")
	dNeighQDrops  = desc("arp_queue_drops_total", "Packets dropped because the queue of packets waiting for ARP resolution was full.")
	dNeighFailed  = desc("arp_failed_drops_total", "Queued packets dropped because ARP resolution failed.")
	dNeighReqs    = desc("arp_requests_sent_total", "ARP requests sent.")
	dSvcConns     = desc("service_connections_total", "Connections scheduled by the service.", "service")
	dSvcInPkts    = desc("service_in_packets_total", "Packets from clients to the service.", "service")
	dSvcOutPkts   = desc("service_out_packets_total", "Packets from real servers back to clients.", "service")
	dSvcInBytes   = desc("service_in_bytes_total", "Bytes from clients to the service.", "service")
	dSvcOutBytes  = desc("service_out_bytes_total", "Bytes from real servers back to clients.", "service")
	dDestConns    = desc("dest_connections_total", "Connections scheduled to the destination.", "service", "dest")
	dDestInPkts   = desc("dest_in_packets_total", "Packets toward the destination.", "service", "dest")
	dDestOutPkts  = desc("dest_out_packets_total", "Packets from the destination.", "service", "dest")
	dDestInBytes  = desc("dest_in_bytes_total", "Bytes toward the destination.", "service", "dest")
	dDestOutBytes = desc("dest_out_bytes_total", "Bytes from the destination.", "service", "dest")
	dDestActive   = desc("dest_active_connections", "Active (ESTABLISHED) connections, LVS ActiveConn.", "service", "dest")
	dDestInact    = desc("dest_inactive_connections", "Other connections, LVS InActConn.", "service", "dest")
	dLaddrInUse   = desc("laddr_ports_in_use", "Local ports in use on the FULLNAT local address.", "service", "laddr")
)

// Describe sends nothing: collector is an unchecked collector (its label sets
// follow the configuration), and describing by collecting would need the
// control goroutine, which is not running yet when the registry is built.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.cached == nil || time.Since(c.at) >= MetricsInterval {
		c.cached, c.at = c.p.gather(), time.Now()
	}
	ms := c.cached
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

// gather reads every metric: the ports' and cores' counters where they are
// (atomic loads), the stack's and the services' through one job on the
// control goroutine.
func (p *Plane) gather() []prometheus.Metric {
	var ms []prometheus.Metric
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ms = append(ms, prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...))
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ms = append(ms, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...))
	}
	if links, err := p.host.Links(true); err == nil {
		for _, l := range links {
			s, n := l.PortCounters, l.Name
			if s == nil {
				continue
			}
			counter(dPortRxPkts, s.RxPackets, n)
			counter(dPortTxPkts, s.TxPackets, n)
			counter(dPortRxBytes, s.RxBytes, n)
			counter(dPortTxBytes, s.TxBytes, n)
			counter(dPortImissed, s.Imissed, n)
			counter(dPortIerrors, s.Ierrors, n)
			counter(dPortOerrors, s.Oerrors, n)
			counter(dPortNombuf, s.RxNombuf, n)
		}
	}
	inUse, _ := p.host.Mbufs()
	gauge(dMbufsInUse, float64(inUse))
	for i, w := range p.dp.Workers {
		core := strconv.Itoa(i)
		s := w.Stats()
		var ns nat.Stats
		p.dp.Cores[i].AddStats(&ns)
		counter(dCoreRx, s.Rx, core)
		counter(dCoreTx, s.Tx, core)
		if s.TotalNs > 0 {
			gauge(dCoreUtil, float64(s.BusyNs)/float64(s.TotalNs), core)
		}
		for r, v := range s.Drops {
			counter(dCoreDrops, v, core, lcore.Reason(r).String())
		}
		for r, v := range ns.Drops {
			if nat.DropReason(r) != nat.ReasonNone {
				counter(dCoreDrops, v, core, nat.DropReason(r).String())
			}
		}
		gauge(dCoreSess, float64(ns.Sessions), core)
		gauge(dCoreSessCap, float64(p.dp.Cores[i].Table().Cap()), core)
		counter(dCoreCreated, ns.SessionsCreated, core)
		counter(dCoreRedOut, s.RedirectOut, core)
		counter(dCoreRedIn, s.RedirectIn, core)
		counter(dCoreICMP, ns.ICMPTranslated, core)
		counter(dCoreICMPSent, ns.ICMPSent, core)
		counter(dCoreToCtl, s.ToControl, core)
	}
	var metrics []prometheus.Metric
	err := p.dp.Control.Do(func() {
		add := func(d *prometheus.Desc, t prometheus.ValueType, v float64, l ...string) {
			metrics = append(metrics, prometheus.MustNewConstMetric(d, t, v, l...))
		}
		ns := p.dp.Stack().Counters().Neigh
		add(dNeighEntries, prometheus.GaugeValue, float64(len(p.dp.Stack().Neighs())))
		add(dNeighQDrops, prometheus.CounterValue, float64(ns.QueueDrops+ns.TableFull))
		add(dNeighFailed, prometheus.CounterValue, float64(ns.FailedDrops))
		add(dNeighReqs, prometheus.CounterValue, float64(ns.RequestsSent))
		t := p.table(false)
		for _, ss := range t.Services {
			svc := ss.Service.Key().String()
			cnt := prometheus.CounterValue
			add(dSvcConns, cnt, float64(ss.Stats.Conns), svc)
			add(dSvcInPkts, cnt, float64(ss.Stats.InPkts), svc)
			add(dSvcOutPkts, cnt, float64(ss.Stats.OutPkts), svc)
			add(dSvcInBytes, cnt, float64(ss.Stats.InBytes), svc)
			add(dSvcOutBytes, cnt, float64(ss.Stats.OutBytes), svc)
			for _, ds := range ss.Dests {
				d := ds.Dest.Key().String()
				add(dDestConns, cnt, float64(ds.Stats.Conns), svc, d)
				add(dDestInPkts, cnt, float64(ds.Stats.InPkts), svc, d)
				add(dDestOutPkts, cnt, float64(ds.Stats.OutPkts), svc, d)
				add(dDestInBytes, cnt, float64(ds.Stats.InBytes), svc, d)
				add(dDestOutBytes, cnt, float64(ds.Stats.OutBytes), svc, d)
				add(dDestActive, prometheus.GaugeValue, float64(ds.Stats.ActiveConns), svc, d)
				add(dDestInact, prometheus.GaugeValue, float64(ds.Stats.InactConns), svc, d)
			}
			for _, l := range ss.Laddrs {
				add(dLaddrInUse, prometheus.GaugeValue, float64(l.Conns), svc, l.Laddr.Addr.String())
			}
		}
	})
	if err == nil {
		ms = append(ms, metrics...)
	}
	return ms
}
