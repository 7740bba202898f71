package dpdk

/*
#include "fngw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Port is an ethdev port.
type Port struct {
	ID   uint16
	Name string
}

// PortByName finds an attached port by its device name (a vdev name such as
// "net_tap0", or a PCI address as the EAL printed it, e.g. "0000:03:00.0").
func PortByName(name string) (*Port, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var id C.uint16_t
	if rc := C.rte_eth_dev_get_port_by_name(cname, &id); rc != 0 {
		return nil, fmt.Errorf("no DPDK port named %q (is the device on the EAL command line, and bound to a DPDK driver?)", name)
	}
	return &Port{ID: uint16(id), Name: name}, nil
}

// PortCount is the number of ports the EAL attached.
func PortCount() int { return int(C.rte_eth_dev_count_avail()) }

// DevInfo is what a port says about itself.
type DevInfo struct {
	Driver         string
	MaxRxQueues    int
	MaxTxQueues    int
	RxOffloadCapa  uint64
	TxOffloadCapa  uint64
	RSSOffloads    uint64
	RetaSize       int
	HashKeySize    int
	MinMTU, MaxMTU int
}

// Info reads the port's device information.
func (p *Port) Info() (DevInfo, error) {
	var in C.struct_rte_eth_dev_info
	if rc := C.rte_eth_dev_info_get(C.uint16_t(p.ID), &in); rc != 0 {
		return DevInfo{}, errno("rte_eth_dev_info_get "+p.Name, rc)
	}
	return DevInfo{
		Driver:        C.GoString(in.driver_name),
		MaxRxQueues:   int(in.max_rx_queues),
		MaxTxQueues:   int(in.max_tx_queues),
		RxOffloadCapa: uint64(in.rx_offload_capa),
		TxOffloadCapa: uint64(in.tx_offload_capa),
		RSSOffloads:   uint64(in.flow_type_rss_offloads),
		RetaSize:      int(in.reta_size),
		HashKeySize:   int(in.hash_key_size),
		MinMTU:        int(in.min_mtu),
		MaxMTU:        maxMTU(int(in.max_rx_pktlen), int(in.max_mtu)),
	}, nil
}

// maxMTU is the largest MTU ethdev lets a port set: its max_mtu, or less
// when its largest receivable frame is smaller (rte_eth_dev_set_mtu checks
// the frame, MTU plus the port's L2 overhead, against max_rx_pktlen; the
// overhead is max_rx_pktlen - max_mtu when the PMD sets both, else Ethernet
// header and CRC).
func maxMTU(maxRxPktLen, maxMTU int) int {
	overhead := 14 + 4
	if maxMTU != 0xffff && maxRxPktLen > maxMTU {
		overhead = maxRxPktLen - maxMTU
	}
	return min(maxMTU, maxRxPktLen-overhead)
}

// PortConf is how a port is set up before Start.
type PortConf struct {
	RxQueues, TxQueues int
	RxDesc, TxDesc     int
	Pool               *Pool
	// RSSKey, when set, replaces the device's default RSS key (used for a symmetric
	// key, so both directions of a flow hash to one queue).
	RSSKey []byte
}

// Configure sets up queues (RSS over IP/TCP/UDP when more than one rx queue and the
// device supports it). It returns the RSS hash functions enabled (0: none).
func (p *Port) Configure(c PortConf) (rssHF uint64, err error) {
	var key *C.uint8_t
	if len(c.RSSKey) > 0 {
		k := C.CBytes(c.RSSKey)
		defer C.free(k)
		key = (*C.uint8_t)(k)
	}
	var hf C.uint64_t
	if rc := C.fngw_port_configure(C.uint16_t(p.ID), C.uint16_t(c.RxQueues), C.uint16_t(c.TxQueues), key, C.uint8_t(len(c.RSSKey)), &hf); rc != 0 {
		return 0, errno(fmt.Sprintf("configure port %s with %d rx/%d tx queues", p.Name, c.RxQueues, c.TxQueues), rc)
	}
	rxd, txd := C.uint16_t(c.RxDesc), C.uint16_t(c.TxDesc)
	if rc := C.rte_eth_dev_adjust_nb_rx_tx_desc(C.uint16_t(p.ID), &rxd, &txd); rc != 0 {
		return 0, errno("adjust descriptors of "+p.Name, rc)
	}
	sock := C.rte_eth_dev_socket_id(C.uint16_t(p.ID))
	if sock < 0 {
		sock = 0
	}
	for q := 0; q < c.RxQueues; q++ {
		if rc := C.rte_eth_rx_queue_setup(C.uint16_t(p.ID), C.uint16_t(q), rxd, C.uint(sock), nil, c.Pool.mp); rc != 0 {
			return 0, errno(fmt.Sprintf("rx queue %d of %s", q, p.Name), rc)
		}
	}
	for q := 0; q < c.TxQueues; q++ {
		if rc := C.rte_eth_tx_queue_setup(C.uint16_t(p.ID), C.uint16_t(q), txd, C.uint(sock), nil); rc != 0 {
			return 0, errno(fmt.Sprintf("tx queue %d of %s", q, p.Name), rc)
		}
	}
	return uint64(hf), nil
}

// Start starts the port.
func (p *Port) Start() error { return errno("start "+p.Name, C.rte_eth_dev_start(C.uint16_t(p.ID))) }

// Stop stops the port.
func (p *Port) Stop() error { return errno("stop "+p.Name, C.rte_eth_dev_stop(C.uint16_t(p.ID))) }

// Close releases the port.
func (p *Port) Close() error { return errno("close "+p.Name, C.rte_eth_dev_close(C.uint16_t(p.ID))) }

// MAC is the port's primary MAC address.
func (p *Port) MAC() ([6]byte, error) {
	var a C.struct_rte_ether_addr
	if rc := C.rte_eth_macaddr_get(C.uint16_t(p.ID), &a); rc != 0 {
		return [6]byte{}, errno("MAC of "+p.Name, rc)
	}
	return *(*[6]byte)(unsafe.Pointer(&a.addr_bytes[0])), nil
}

// SetMAC replaces the port's primary MAC address.
func (p *Port) SetMAC(mac [6]byte) error {
	var a C.struct_rte_ether_addr
	*(*[6]byte)(unsafe.Pointer(&a.addr_bytes[0])) = mac
	return errno("set MAC of "+p.Name, C.rte_eth_dev_default_mac_addr_set(C.uint16_t(p.ID), &a))
}

// MTU is the port's MTU.
func (p *Port) MTU() (int, error) {
	var m C.uint16_t
	if rc := C.rte_eth_dev_get_mtu(C.uint16_t(p.ID), &m); rc != 0 {
		return 0, errno("MTU of "+p.Name, rc)
	}
	return int(m), nil
}

// SetMTU sets the port's MTU.
func (p *Port) SetMTU(mtu int) error {
	return errno(fmt.Sprintf("set MTU %d on %s", mtu, p.Name), C.rte_eth_dev_set_mtu(C.uint16_t(p.ID), C.uint16_t(mtu)))
}

// SetPromiscuous turns promiscuous mode on or off.
func (p *Port) SetPromiscuous(on bool) error {
	if on {
		return errno("promiscuous on "+p.Name, C.rte_eth_promiscuous_enable(C.uint16_t(p.ID)))
	}
	return errno("promiscuous off "+p.Name, C.rte_eth_promiscuous_disable(C.uint16_t(p.ID)))
}

// Promiscuous reports whether promiscuous mode is on.
func (p *Port) Promiscuous() bool { return C.rte_eth_promiscuous_get(C.uint16_t(p.ID)) == 1 }

// Link is a port's link state.
type Link struct {
	Up         bool
	SpeedMbps  uint32
	FullDuplex bool
}

// Link reads the link state without waiting.
func (p *Port) Link() (Link, error) {
	var speed C.uint32_t
	var up, full C.int
	if rc := C.fngw_link(C.uint16_t(p.ID), &speed, &up, &full); rc != 0 {
		return Link{}, errno("link of "+p.Name, rc)
	}
	return Link{Up: up == 1, SpeedMbps: uint32(speed), FullDuplex: full == 1}, nil
}

// Stats are a port's basic counters, named as `gw link show -s --json` prints them.
type Stats struct {
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	Imissed   uint64 `json:"imissed"`
	Ierrors   uint64 `json:"ierrors"`
	Oerrors   uint64 `json:"oerrors"`
	RxNombuf  uint64 `json:"rx_nombuf"`
}

// Stats reads the port's counters.
func (p *Port) Stats() (Stats, error) {
	var s C.struct_rte_eth_stats
	if rc := C.rte_eth_stats_get(C.uint16_t(p.ID), &s); rc != 0 {
		return Stats{}, errno("stats of "+p.Name, rc)
	}
	return Stats{RxPackets: uint64(s.ipackets), TxPackets: uint64(s.opackets), RxBytes: uint64(s.ibytes),
		TxBytes: uint64(s.obytes), Imissed: uint64(s.imissed), Ierrors: uint64(s.ierrors),
		Oerrors: uint64(s.oerrors), RxNombuf: uint64(s.rx_nombuf)}, nil
}

// ResetStats zeroes the port's counters.
func (p *Port) ResetStats() error {
	return errno("reset stats of "+p.Name, C.rte_eth_stats_reset(C.uint16_t(p.ID)))
}

// RxBurst receives up to len(b.Pkts) packets from queue q into b and returns how
// many it got. One cgo call.
func RxBurst(port, q uint16, b *Burst) int {
	return int(C.fngw_rx_burst(C.uint16_t(port), C.uint16_t(q), b.at(0), C.uint16_t(len(b.Pkts))))
}

// TxBurst sends b.Pkts[from:from+n] on queue q and returns how many the PMD took;
// the caller still owns (and must free or retry) the rest. One cgo call.
func TxBurst(port, q uint16, b *Burst, from, n int) int {
	return int(C.fngw_tx_burst(C.uint16_t(port), C.uint16_t(q), b.at(from), C.uint16_t(n)))
}

// EthIO moves bursts through real ethdev ports and allocates from Pool; it is the
// production implementation of the worker loop's I/O contract (package lcore).
type EthIO struct{ Pool *Pool }

// AllocBulk allocates from the pool; see Pool.AllocBulk.
func (e EthIO) AllocBulk(b *Burst, from, n int) bool { return e.Pool.AllocBulk(b, from, n) }

// RxBurst receives a burst; see RxBurst.
func (EthIO) RxBurst(port, q uint16, b *Burst) int { return RxBurst(port, q, b) }

// TxBurst sends a burst; see TxBurst.
func (EthIO) TxBurst(port, q uint16, b *Burst, from, n int) int { return TxBurst(port, q, b, from, n) }

// FreeBulk frees mbufs; see FreeBulk.
func (EthIO) FreeBulk(b *Burst, from, n int) { FreeBulk(b, from, n) }
