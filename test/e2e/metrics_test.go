package e2e

import (
	"regexp"
	"strconv"
	"testing"

	"fngw/test/harness"
)

// TestMetrics scrapes /metrics of a gateway that has answered pings: port,
// core, drop-reason and ARP series are there and count what happened.
func TestMetrics(t *testing.T) {
	const metrics = "127.0.0.1:9180" // inside the gateway's own namespace
	c := startTapClient(t, harness.Config{Metrics: metrics})
	gwNS := c.gwNS
	if out, err := c.client.Run("ping", "-c", "3", "-i", "0.2", "-W", "2", gwAddr); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	gwNS.MustIP("link", "set", "lo", "up")
	body := gwNS.MustRun("curl", "-sf", "http://"+metrics+"/metrics")

	value := func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("series %s missing from /metrics", series)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("series %s: %v", series, err)
		}
		return v
	}
	atLeast := func(series string, min float64) {
		t.Helper()
		if v := value(series); v < min {
			t.Errorf("%s = %v, want at least %v", series, v, min)
		}
	}
	atLeast(`fngw_port_rx_packets_total{port="dpdk0"}`, 4) // ARP + 3 echo requests
	atLeast(`fngw_port_tx_packets_total{port="dpdk0"}`, 4)
	atLeast(`fngw_core_rx_packets_total{core="0"}`, 4)
	atLeast(`fngw_core_to_control_total{core="0"}`, 4)
	atLeast(`fngw_arp_entries`, 1)
	value(`fngw_port_rx_missed_total{port="dpdk0"}`)
	value(`fngw_core_drops_total{core="0",reason="bad_ipv4_checksum"}`)
	value(`fngw_core_drops_total{core="0",reason="laddr_exhausted"}`)
	value(`fngw_core_session_capacity{core="0"}`)
	value(`fngw_arp_queue_drops_total`)
}
