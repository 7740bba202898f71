package plane

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"fngw/arp"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/kernel"
)

// TestKernelAddressConflicts: addresses something else puts on the kernel
// interfaces that the configuration owns otherwise (keepalived given a
// FULLNAT local address, or another port's address) stay what the
// configuration makes them, logged once each; and a VIP that is also an
// interface address of a vip_arp = "kernel" port (answered on the backup
// too) is refused with a message saying why.
func TestKernelAddressConflicts(t *testing.T) {
	var logs bytes.Buffer
	p := &Plane{portIDs: map[string]uint16{"dpdk0": 0, "dpdk1": 1}, vipARP: map[string]string{"dpdk0": config.VIPARPKernel},
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	cfg := ctl.NewConfig()
	cfg.Addrs = []ctl.Addr{{Prefix: netip.MustParsePrefix("198.18.1.1/24"), Port: "dpdk0"}, {Prefix: netip.MustParsePrefix("198.18.2.1/24"), Port: "dpdk1"}}
	admApply(t, cfg, "-A -t 198.18.1.100:80 -s rr", "--add-laddr -z 198.18.2.100 -t 198.18.1.100:80 -F dpdk1")
	p.kernelState = kernel.State{Addrs: []kernel.Addr{
		{Port: "dpdk0", Prefix: netip.MustParsePrefix("198.18.1.100/32")}, // keepalived's VIP: taken
		{Port: "dpdk1", Prefix: netip.MustParsePrefix("198.18.2.100/24")}, // a local address
		{Port: "dpdk1", Prefix: netip.MustParsePrefix("198.18.1.1/24")},   // dpdk0's address
		{Port: "dpdk1", Prefix: netip.MustParsePrefix("198.18.2.1/24")},   // its own, pushed by the gateway
	}}
	for range 2 {
		want, err := p.ownedAddrs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for a, w := range map[string]owned{
			"198.18.1.100": {0, netip.MustParsePrefix("198.18.1.100/32"), arp.OwnVIP},
			"198.18.2.100": {1, netip.MustParsePrefix("198.18.2.100/32"), arp.OwnLocalAddr},
			"198.18.1.1":   {0, netip.MustParsePrefix("198.18.1.1/24"), arp.OwnInterface},
		} {
			if got := want[netip.MustParseAddr(a)]; got != w {
				t.Errorf("%s: owned as %+v, want %+v", a, got, w)
			}
		}
	}
	for _, w := range []string{
		"198.18.2.100/24 on the kernel interface of dpdk1 is a FULLNAT local address: kept as the local address",
		"198.18.1.1/24 on the kernel interface of dpdk1 is the gateway's on another port: not taken on dpdk1",
	} {
		if n := strings.Count(logs.String(), w); n != 1 {
			t.Errorf("logged %d times, want once: %q\n%s", n, w, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, logs.String())
	}

	cfg.Addrs = append(cfg.Addrs, ctl.Addr{Prefix: netip.MustParsePrefix("198.18.1.100/24"), Port: "dpdk0"})
	_, err := p.ownedAddrs(cfg)
	if err == nil || !strings.Contains(err.Error(), `VIP 198.18.1.100 is an interface address of port dpdk0, whose vip_arp = "kernel" answers for a VIP only while it is on the kernel interface`) {
		t.Errorf("a VIP that is an interface address of a vip_arp = kernel port: %v", err)
	}
}
