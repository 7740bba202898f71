package gateway

import "fngw/ctl"

// host is the plane's view of DPDK: the ports and the mbuf pool.
type host struct{ g *Gateway }

// Links describes every port, after DPVS's `dpip link show`.
func (h host) Links(counters bool) ([]ctl.Link, error) {
	var list []ctl.Link
	for _, p := range h.g.ports {
		l := ctl.Link{Name: p.cfg.Name, ID: p.dev.ID, Device: p.cfg.Device, MAC: p.mac.String(),
			Promisc: p.dev.Promiscuous(), RxQueues: p.cfg.Queues, TxQueues: h.g.nworkers}
		if m, err := p.dev.MTU(); err == nil {
			l.MTU = m
		}
		if st, err := p.dev.Link(); err == nil {
			l.Up, l.Speed, l.Duplex = st.Up, st.SpeedMbps, "half"
			if st.FullDuplex {
				l.Duplex = "full"
			}
		}
		if p.tap {
			// The tap PMD asks its kernel interface by name in the gateway's
			// namespace; once the interface is moved to the peer's namespace the
			// answer is "down" although the queues forward. A started tap port
			// is up.
			l.Up = true
		}
		if counters {
			s, err := p.dev.Stats()
			if err != nil {
				return nil, err
			}
			l.PortCounters = &ctl.PortCounters{RxPackets: s.RxPackets, TxPackets: s.TxPackets, RxBytes: s.RxBytes,
				TxBytes: s.TxBytes, Imissed: s.Imissed, Ierrors: s.Ierrors, Oerrors: s.Oerrors, RxNombuf: s.RxNombuf}
		}
		if k := p.kernel; k != nil {
			l.Kernel = &ctl.LinkKernel{Iface: k.iface, Backend: k.backend}
			if counters {
				s := h.g.dp.Control.KernelStats(p.dev.ID)
				l.Kernel.KernelCounters = &ctl.KernelCounters{ToPackets: s.ToPackets, ToBytes: s.ToBytes, ToDropped: s.ToDropped,
					FromPackets: s.FromPackets, FromBytes: s.FromBytes, FromLimited: s.FromLimited, FromMalformed: s.FromMalformed}
			}
		}
		list = append(list, l)
	}
	return list, nil
}

// Mbufs reports the pool's mbufs in use and available.
func (h host) Mbufs() (inUse, avail int) { return h.g.pool.InUse(), h.g.pool.Avail() }
