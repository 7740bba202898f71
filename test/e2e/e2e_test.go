package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fngw/test/harness"
)

const (
	port     = "dpdk0"
	gwAddr   = "198.18.1.1"
	gwPrefix = gwAddr + "/24"
	clAddr   = "198.18.1.2"
	clPrefix = clAddr + "/24"
	unowned  = "198.18.1.3" // on the subnet, owned by nobody
)

// tapClient is a gateway with one net_tap port whose tap interface was moved
// into a client namespace and configured there as clPrefix.
type tapClient struct {
	gw     *harness.Gateway
	gwNS   *harness.Netns // the gateway's namespace
	client *harness.Netns
	tap    string           // the tap's interface name (in client)
	mac    net.HardwareAddr // the client side's MAC
}

// startTapClient starts a gateway configured as cfg in namespace "gw" with
// port dpdk0 = net_tap (gwPrefix), moves the tap into namespace "client",
// gives it clPrefix there and sets it up.
func startTapClient(t *testing.T, cfg harness.Config) *tapClient {
	t.Helper()
	harness.Prepare(t)
	// Namespaces first, so that t.Cleanup stops the gateway before they go.
	gwNS := harness.NewNetns(t, "gw")
	client := harness.NewNetns(t, "client")
	// No IPv6 on the client: router and neighbour solicitations would only
	// add noise to the port counters.
	client.DisableIPv6()

	tap := harness.UniqueIfName()
	cfg.Ports = []harness.Port{{Name: port, Device: "net_tap0,iface=" + tap, Addrs: []string{gwPrefix}}}
	g := harness.Start(t, cfg, gwNS)
	gwNS.WaitLink(tap, 10*time.Second) // the PMD created it during start-up
	gwNS.MoveLink(tap, client)
	client.AddAddr(tap, clPrefix)
	client.LinkUp(tap)
	return &tapClient{gw: g, gwNS: gwNS, client: client, tap: tap, mac: client.MAC(tap)}
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// ping runs `ping -c count -W 2 -i 0.2 dst` in the client namespace and
// returns how many packets were sent and answered, and ping's output.
func (c *tapClient) ping(t *testing.T, count int, dst string) (sent, received int, out string) {
	t.Helper()
	out, err := c.client.Run("ping", "-n", "-c", strconv.Itoa(count), "-W", "2", "-i", "0.2", dst)
	m := pingStats.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ping %s: no statistics in the output (%v):\n%s", dst, err, out)
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	return sent, received, out
}

// kernelNeigh is one entry of `ip -j neigh show`.
type kernelNeigh struct {
	Dst    string   `json:"dst"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

func sameMAC(a, b string) bool {
	x, err1 := net.ParseMAC(a)
	y, err2 := net.ParseMAC(b)
	return err1 == nil && err2 == nil && x.String() == y.String()
}

func findNeigh(ns []harness.NeighEntry, addr string) (harness.NeighEntry, bool) {
	for _, n := range ns {
		if n.Addr == addr {
			return n, true
		}
	}
	return harness.NeighEntry{}, false
}

// TestPing: a client behind the gateway's tap port resolves the gateway's
// address by ARP and pings it; the gateway lists the client as a neighbour,
// counts the traffic, manages static neighbours from the CLI, refuses bad
// commands, answers for no address it does not own, and stops cleanly.
// The subtests share one gateway and run in order.
func TestPing(t *testing.T) {
	c := startTapClient(t, harness.Config{})
	g := c.gw

	t.Run("ping_gateway", func(t *testing.T) {
		sent, received, out := c.ping(t, 3, gwAddr)
		if sent != 3 || received != 3 {
			t.Fatalf("ping %s from the client: %d sent, %d received; want 3 and 3:\n%s", gwAddr, sent, received, out)
		}
	})

	t.Run("client_resolved_gateway", func(t *testing.T) {
		out := c.client.MustIP("-j", "neigh", "show", gwAddr, "dev", c.tap)
		var ns []kernelNeigh
		if err := json.Unmarshal([]byte(out), &ns); err != nil || len(ns) != 1 {
			t.Fatalf("client's neighbour entry for %s: %q (%v)", gwAddr, out, err)
		}
		if gwMAC := g.MustLink(port).MAC; !sameMAC(ns[0].LLAddr, gwMAC) {
			t.Errorf("client resolved %s to %q, want the MAC of port %s, %q", gwAddr, ns[0].LLAddr, port, gwMAC)
		}
		for _, s := range ns[0].State {
			if s == "FAILED" || s == "INCOMPLETE" {
				t.Errorf("client's neighbour entry for %s is %v", gwAddr, ns[0].State)
			}
		}
	})

	t.Run("gateway_neighbour", func(t *testing.T) {
		ns, err := g.Neighs()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := findNeigh(ns, clAddr)
		if !ok {
			t.Fatalf("gw ip neigh show --json does not list the client %s: %+v", clAddr, ns)
		}
		if !sameMAC(n.LLAddr, c.mac.String()) || n.Dev != port {
			t.Errorf("neighbour %s: lladdr %q dev %q, want %v dev %s", clAddr, n.LLAddr, n.Dev, c.mac, port)
		}
		if s := strings.ToLower(n.State); s == "" || s == "incomplete" || s == "failed" {
			t.Errorf("neighbour %s in state %q, want a resolved state", clAddr, n.State)
		}
	})

	t.Run("counters", func(t *testing.T) {
		before := g.MustLink(port)
		// At least the client's ARP request and 3 echo requests came in, and
		// the ARP reply and 3 echo replies went out.
		if before.RxPackets < 4 || before.TxPackets < 4 || before.RxBytes < 4*60 || before.TxBytes < 4*42 {
			t.Errorf("after ARP and 3 pings, port %s counters %+v, want at least 4 packets each way", port, before)
		}
		if _, received, out := c.ping(t, 1, gwAddr); received != 1 {
			t.Fatalf("one more ping was not answered:\n%s", out)
		}
		// The tap PMD counts when a burst is done; poll briefly rather than
		// read once.
		harness.Eventually(t, 5*time.Second, "the port counters to move", func() error {
			after, err := g.Link(port)
			if err != nil {
				return err
			}
			if after.RxPackets <= before.RxPackets || after.TxPackets <= before.TxPackets ||
				after.RxBytes <= before.RxBytes || after.TxBytes <= before.TxBytes {
				return fmt.Errorf("before %+v, after %+v", before, after)
			}
			return nil
		})
	})

	t.Run("no_answer_for_unowned_address", func(t *testing.T) {
		if sent, received, out := c.ping(t, 1, unowned); sent != 1 || received != 0 {
			t.Errorf("ping %s (owned by nobody) was answered:\n%s", unowned, out)
		}
		out := c.client.MustIP("-j", "neigh", "show", unowned, "dev", c.tap)
		var ns []kernelNeigh
		json.Unmarshal([]byte(out), &ns)
		for _, n := range ns {
			if n.LLAddr != "" {
				t.Errorf("the client resolved %s (owned by nobody) to %s: the gateway answered ARP for it", unowned, n.LLAddr)
			}
		}
	})

	t.Run("static_neighbour_add_del", func(t *testing.T) {
		const addr, mac = "198.18.1.50", "02:00:00:00:00:50"
		g.MustCmd("ip", "neigh", "add", addr, "lladdr", mac, "dev", port)
		ns, err := g.Neighs()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := findNeigh(ns, addr); !ok || !sameMAC(n.LLAddr, mac) || n.Dev != port {
			t.Errorf("after neigh add, gw ip neigh show --json has %+v for %s, want lladdr %s dev %s", n, addr, mac, port)
		}
		g.MustCmd("ip", "neigh", "del", addr, "dev", port)
		if ns, err = g.Neighs(); err != nil {
			t.Fatal(err)
		}
		if n, ok := findNeigh(ns, addr); ok {
			t.Errorf("after neigh del, %s is still listed: %+v", addr, n)
		}
		if _, ok := findNeigh(ns, clAddr); !ok {
			t.Errorf("deleting %s also removed the client %s: %+v", addr, clAddr, ns)
		}
	})

	t.Run("cli_errors", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			args     []string
			mentions string // the offending value the message must name
		}{
			{"bad_mac", []string{"ip", "neigh", "add", "198.18.1.51", "lladdr", "zz:zz", "dev", port}, "zz:zz"},
			{"bad_address", []string{"ip", "addr", "add", "198.18.1.300/24", "dev", port}, "198.18.1.300"},
			{"delete_missing_neighbour", []string{"ip", "neigh", "del", "198.18.1.52", "dev", port}, "198.18.1.52"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := g.Cmd(tc.args...)
				var ce *harness.CmdError
				if !errors.As(err, &ce) || ce.ExitCode() <= 0 {
					t.Fatalf("gw %s: want a non-zero exit, got %v", strings.Join(tc.args, " "), err)
				}
				if !strings.Contains(ce.Stderr, tc.mentions) {
					t.Errorf("gw %s: error message %q does not name %q", strings.Join(tc.args, " "), ce.Stderr, tc.mentions)
				}
			})
		}
		// Still serving after the errors.
		if _, err := g.Link(port); err != nil {
			t.Error(err)
		}
	})

	t.Run("stop", func(t *testing.T) {
		if err := g.Terminate(); err != nil { // SIGTERM; exit status 0 within harness.StopTimeout
			t.Fatal(err)
		}
		// Its tap was not persistent: the kernel deletes it once the
		// gateway has closed it, even in the client's namespace.
		harness.Eventually(t, 10*time.Second, "the tap to vanish after the gateway stopped", func() error {
			if c.client.HasLink(c.tap) {
				return fmt.Errorf("%s still exists in %s", c.tap, c.client.Name)
			}
			return nil
		})
	})
}
