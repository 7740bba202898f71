package gen

import (
	"fmt"
	"net"
	"net/netip"
)

// The perf lab's addressing plan: one gateway port carries both sides (a
// net_pcap port replays the file, a real NIC in a lab sees both directions).
//
//	clients 198.19.0.0/16 ── router 198.18.0.254 ──┐
//	                                               ├─ gateway port 198.18.0.1/24 and 198.18.1.1/24
//	real servers 198.18.1.11.. ───────────────────┘   VIP 198.18.0.100, LIPs 198.18.1.100..
//
// 198.18.0.0/15 is the benchmarking range (RFC 2544); nothing here is routed.
var (
	LabGatewayMAC = net.HardwareAddr{0x02, 0x70, 0x63, 0x61, 0x70, 0x00} // net_pcap port 0 ("\x02pcap\x00"), fixed
	LabRouterMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xfe}
	LabServerMAC  = net.HardwareAddr{0x02, 0, 0, 0, 1, 0x0b}
	LabRouter     = netip.MustParseAddr("198.18.0.254")
	LabClients    = netip.MustParseAddr("198.19.0.0")
	LabVIP        = netip.MustParseAddr("198.18.0.100")
	LabPortAddrs  = []string{"198.18.0.1/24", "198.18.1.1/24"}
)

// LabServers returns n real servers 198.18.1.11.. on port.
func LabServers(n int, port uint16) []netip.AddrPort {
	out := make([]netip.AddrPort, n)
	for i := range out {
		out[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(11 + i)}), port)
	}
	return out
}

// LabLIPs returns n local addresses 198.18.1.100...
func LabLIPs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{198, 18, 1, byte(100 + i)})
	}
	return out
}

// LabSpec is a spec on the lab plan: service VIP:vport/proto, nservers real
// servers on rport, nlips local addresses.
func LabSpec(mode Mode, proto string, flows, size int, vport, rport uint16, nservers, nlips int) (Spec, error) {
	if nservers < 1 || nservers > 80 || nlips < 1 || nlips > 120 {
		return Spec{}, fmt.Errorf("lab plan: %d real servers (1-80) and %d LIPs (1-120)", nservers, nlips)
	}
	return Spec{Mode: mode, Proto: proto, Flows: flows, Size: size,
		GatewayMAC: LabGatewayMAC, RouterMAC: LabRouterMAC, ServerMAC: LabServerMAC,
		Clients: LabClients, VIP: netip.AddrPortFrom(LabVIP, vport),
		Servers: LabServers(nservers, rport), LIPs: LabLIPs(nlips)}, nil
}
