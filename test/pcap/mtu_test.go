package pcap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fngw/test/harness"
)

// TestMTUTheDeviceCannotCarry: a port MTU the device cannot take (net_pcap
// cannot change its MTU) stops the start with a message naming the port and
// the MTU, rather than a warning and a stack that advertises an MTU whose
// frames the port drops.
func TestMTUTheDeviceCannotCarry(t *testing.T) {
	harness.Prepare(t)
	ns := harness.NewNetns(t, "gw")
	dir := harness.TempDir(t, "mtu")
	gwEnd, testEnd := harness.UniqueIfName(), harness.UniqueIfName()
	ns.AddVeth(gwEnd, testEnd)
	cfg := harness.Config{FilePrefix: fmt.Sprintf("%s%d-mtu", harness.FilePrefix, os.Getpid()), Socket: filepath.Join(dir, "gw.sock"),
		Ports: []harness.Port{{Name: "dpdk0", Device: "net_pcap0,rx_iface=" + gwEnd + ",tx_pcap=" + filepath.Join(dir, "tx.pcap"),
			Addrs: []string{"198.18.1.1/24"}, MTU: 9000}}}
	path := filepath.Join(dir, "gw.toml")
	if err := os.WriteFile(path, []byte(cfg.TOML()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), harness.StartTimeout)
	defer cancel()
	c := ns.Command(harness.Binary(t), "run", "-c", path)
	out, err := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "port dpdk0: mtu 9000") {
		t.Fatalf("gw run with mtu 9000 on net_pcap: %v (want exit status 1 and the port and MTU named):\n%s", err, out)
	}
}
