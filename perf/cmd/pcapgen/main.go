// Command pcapgen writes benchmark traffic for fngw as a pcap file (see
// package fngw/perf/gen for the modes and the reply-port prediction).
//
//	pcapgen -mode forward -proto udp -flows 1024 -o udp1k.pcap
//	pcapgen -mode syn -flows 1048576 -servers 8 -lips 4 -o syn1m.pcap
//	pcapgen -mode mixed -flows 1024 -o mixed1k.pcap
//
// Defaults follow the perf lab's addressing plan (gen.LabSpec); every address
// and MAC can be overridden for a real lab.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"fngw/perf/gen"
)

func main() {
	var (
		mode     = flag.String("mode", "forward", "forward, syn, reply or mixed")
		proto    = flag.String("proto", "udp", "udp or tcp")
		flows    = flag.Int("flows", 1024, "number of flows")
		size     = flag.Int("size", 64, "frame size on the wire including FCS (pcap records are 4 bytes shorter)")
		passes   = flag.Int("passes", 1, "forward mode: packets per flow (TCP: SYN first, then ACKs)")
		vip      = flag.String("vip", gen.LabVIP.String()+":80", "virtual service ADDR:PORT")
		rport    = flag.Uint("rport", 8080, "real servers' port")
		nserv    = flag.Int("servers", 1, "real servers on the lab plan (198.18.1.11..)")
		servers  = flag.String("server-addrs", "", "comma-separated real servers ADDR:PORT in configuration order (overrides -servers)")
		nlips    = flag.Int("lips", 1, "local addresses on the lab plan (198.18.1.100..)")
		lips     = flag.String("lip-addrs", "", "comma-separated local addresses in configuration order (overrides -lips)")
		clients  = flag.String("clients", gen.LabClients.String(), "first client address")
		gwMAC    = flag.String("gw-mac", gen.LabGatewayMAC.String(), "gateway port MAC (destination of every frame)")
		rtMAC    = flag.String("router-mac", gen.LabRouterMAC.String(), "source MAC of client frames")
		svMAC    = flag.String("server-mac", gen.LabServerMAC.String(), "source MAC of real-server frames")
		lportMin = flag.Uint("lport-min", 1024, "bottom of the gateway's local port range")
		out      = flag.String("o", "", "output pcap file (required)")
	)
	flag.Parse()
	if *out == "" {
		fail("-o FILE is required")
	}
	va, err := netip.ParseAddrPort(*vip)
	check(err, "-vip")
	s, err := gen.LabSpec(gen.Mode(*mode), *proto, *flows, *size, va.Port(), uint16(*rport), *nserv, *nlips)
	check(err, "")
	s.VIP, s.Passes, s.LportMin = va, *passes, uint16(*lportMin)
	if s.Clients, err = netip.ParseAddr(*clients); err != nil {
		fail("-clients: %v", err)
	}
	if *servers != "" {
		s.Servers = nil
		for _, x := range strings.Split(*servers, ",") {
			ap, err := netip.ParseAddrPort(strings.TrimSpace(x))
			check(err, "-server-addrs")
			s.Servers = append(s.Servers, ap)
		}
	}
	if *lips != "" {
		s.LIPs = nil
		for _, x := range strings.Split(*lips, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(x))
			check(err, "-lip-addrs")
			s.LIPs = append(s.LIPs, a)
		}
	}
	for _, m := range []struct {
		flag string
		dst  *net.HardwareAddr
	}{{*gwMAC, &s.GatewayMAC}, {*rtMAC, &s.RouterMAC}, {*svMAC, &s.ServerMAC}} {
		*m.dst, err = net.ParseMAC(m.flag)
		check(err, "MAC "+m.flag)
	}
	s.Defaults()
	t0 := time.Now()
	n, err := gen.WriteFile(*out, s)
	check(err, "")
	fmt.Fprintf(os.Stderr, "pcapgen: %s: %d frames (%s %s, %d flows, %d bytes) in %v\n", *out, n, s.Mode, s.Proto,
		*flows, *size, time.Since(t0).Round(time.Millisecond))
}

func check(err error, what string) {
	if err != nil {
		if what != "" {
			fail("%s: %v", what, err)
		}
		fail("%v", err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pcapgen: "+format+"\n", a...)
	os.Exit(2)
}
