package config

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"fngw/ctl"
)

// checkBase is a gateway with the two ports the keepalived importer's
// golden output names.
const checkBase = `[eal]
lcores = "0-1"
[[port]]
name = "dpdk0"
device = "net_tap0"
addrs = ["198.18.1.1/24"]
[[port]]
name = "dpdk1"
device = "net_tap1"
addrs = ["198.18.2.1/24"]
`

// TestImportedChecksLoad: what gw import keepalived writes (its golden
// output) loads as it is, with the checks as the importer meant them.
func TestImportedChecksLoad(t *testing.T) {
	b, err := os.ReadFile("../keepalived/testdata/keepalived.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("gw.toml", []byte(checkBase+string(b)))
	if err != nil {
		t.Fatal(err)
	}
	vs, ok := f.LB.Lookup(ctl.ServiceKey{Proto: ctl.TCP, VIP: netip.MustParseAddr("198.18.1.100"), Port: 80})
	if !ok {
		t.Fatal("service 198.18.1.100:80 missing")
	}
	h := vs.Service.Health
	c := h.Check
	if c.Type != ctl.CheckHTTP || c.Path != "/healthz" || !c.ExpectStatus.Match(200) || c.ExpectStatus.Match(204) ||
		c.Interval != ctl.Duration(2*time.Second) || c.Timeout != ctl.Duration(time.Second) || c.Rise != 1 || c.Fall != 3 ||
		c.OnFailure != ctl.OnFailureInhibit {
		t.Errorf("check %+v", c)
	}
	if h.Quorum != 2 || h.SorryServer != netip.MustParseAddrPort("198.18.2.99:80") {
		t.Errorf("health %+v", h)
	}
	vs, _ = f.LB.Lookup(ctl.ServiceKey{Proto: ctl.TCP, VIP: netip.MustParseAddr("198.18.1.100"), Port: 25})
	if c := vs.Service.Health.Check; c.Type != ctl.CheckTCP || c.Port != 25 || c.Source != netip.MustParseAddr("198.18.2.1") || !vs.Service.Health.Alpha {
		t.Errorf("smtp %+v", vs.Service.Health)
	}
	if vs.Service.Health.NotifyUp != "/usr/local/bin/rs-notify.sh up #mail" {
		t.Errorf("notify_up %q", vs.Service.Health.NotifyUp)
	}
	vs, _ = f.LB.Lookup(ctl.ServiceKey{Proto: ctl.TCP, VIP: netip.MustParseAddr("198.18.1.101"), Port: 443})
	for _, d := range vs.Dests {
		if c := ctl.CheckOf(vs.Service, d); c.Type != ctl.CheckMisc || !strings.Contains(c.Command, d.Addr.String()) || c.Fall != 1 {
			t.Errorf("dest %s: check %+v", d.Key(), c)
		}
	}
}

const checkService = `
[[service]]
vip = "198.18.1.100:80"
laddrs = ["198.18.2.100 dev dpdk1"]
%s
[[service.dest]]
addr = "198.18.2.11:8080"
fwd = "fullnat"
%s
`

func parseService(t *testing.T, svc, dest string) (*File, error) {
	t.Helper()
	text := checkBase + strings.Replace(strings.Replace(checkService, "%s", svc, 1), "%s", dest, 1)
	return Parse("gw.toml", []byte(text))
}

// TestCheckDefaultsAndOverride: a check's defaults (keepalived's: fall 2,
// rise 1, remove, any 2xx), and a destination's table amending the
// service's key by key, or replacing it when it has a type.
func TestCheckDefaultsAndOverride(t *testing.T) {
	f, err := parseService(t, "[service.check]\ntype = \"http\"\ninterval = \"1s\"", "[service.dest.check]\nport = 9000\npath = \"/ready\"")
	if err != nil {
		t.Fatal(err)
	}
	vs := f.LB.Services[0]
	c := vs.Service.Health.Check
	want := ctl.Check{Type: ctl.CheckHTTP, Path: "/", Interval: ctl.Duration(time.Second), Timeout: ctl.Duration(time.Second),
		Rise: 1, Fall: 2, OnFailure: ctl.OnFailureRemove}
	if c != want {
		t.Errorf("service check %+v, want %+v", c, want)
	}
	want.Port, want.Path = 9000, "/ready"
	if d := ctl.CheckOf(vs.Service, vs.Dests[0]); d != want {
		t.Errorf("destination check %+v, want %+v", d, want)
	}
	f, err = parseService(t, "[service.check]\ntype = \"http\"\npath = \"/x\"", "[service.dest.check]\ntype = \"tcp\"")
	if err != nil {
		t.Fatal(err)
	}
	if d := ctl.CheckOf(f.LB.Services[0].Service, f.LB.Services[0].Dests[0]); d.Type != ctl.CheckTCP || d.Path != "" {
		t.Errorf("a typed destination check inherits: %+v", d)
	}
	f, err = parseService(t, "[service.check]\ntype = \"tcp\"", "[service.dest.check]\ntype = \"none\"")
	if err != nil {
		t.Fatal(err)
	}
	if d := ctl.CheckOf(f.LB.Services[0].Service, f.LB.Services[0].Dests[0]); d.Enabled() {
		t.Errorf("type none: %+v", d)
	}
}

// TestCheckErrors: every bad check setting is refused, naming its key and
// line, and nothing is loaded.
func TestCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		name, svc, dest string
		want            []string // substrings of the error, in order
	}{
		{"unknown type", "[service.check]\ntype = \"icmp\"", "", []string{"gw.toml:16: service[0].check.type: unknown check type \"icmp\""}},
		{"unknown key", "[service.check]\ntype = \"tcp\"\nretry = 3", "", []string{"gw.toml:17: service[0].check.retry: unknown key \"retry\"; accepted here: type, port"}},
		{"negative interval", "[service.check]\ntype = \"tcp\"\ninterval = \"-2s\"", "", []string{"gw.toml:17: service[0].check.interval: -2s out of range"}},
		{"bad interval", "[service.check]\ntype = \"tcp\"\ninterval = \"2\"", "", []string{"service[0].check.interval: \"2\" is not a duration"}},
		{"rise 0", "[service.check]\ntype = \"tcp\"\nrise = 0", "", []string{"gw.toml:17: service[0].check.rise: 0 out of range 1-1000"}},
		{"fall 0 on a destination", "[service.check]\ntype = \"tcp\"", "[service.dest.check]\nfall = 0", []string{"gw.toml:21: service[0].dest[0].check.fall: 0 out of range"}},
		{"key of another type", "[service.check]\ntype = \"tcp\"\npath = \"/\"", "", []string{"service[0].check.path: is for checks of type http or https, not tcp"}},
		{"digest", "[service.check]\ntype = \"http\"\ndigest = \"abc\"", "", []string{"service[0].check.digest: \"abc\" is not an MD5 digest"}},
		{"regex", "[service.check]\ntype = \"http\"\nexpect_body_regex = \"(?<=x)\"", "", []string{"service[0].check.expect_body_regex"}},
		{"status", "[service.check]\ntype = \"http\"\nexpect_status = [200, 700]", "", []string{"service[0].check.expect_status: status 700"}},
		{"hex", "[service.check]\ntype = \"udp\"\npayload = \"abc\"", "", []string{"service[0].check.payload"}},
		{"qtype", "[service.check]\ntype = \"dns\"\nqtype = \"PTR\"", "", []string{"service[0].check.qtype: \"PTR\""}},
		{"misc without command", "[service.check]\ntype = \"misc\"", "", []string{"service[0].check.command: missing"}},
		{"on_failure", "[service.check]\ntype = \"tcp\"\non_failure = \"drain\"", "", []string{"service[0].check.on_failure: \"drain\""}},
		{"source", "[service.check]\ntype = \"tcp\"\nsource = \"224.0.0.1\"", "", []string{"service[0].check.source: 224.0.0.1 is not a unicast IPv4 address"}},
		{"no type", "[service.check]\nport = 80", "", []string{"service[0].check.type: missing"}},
		{"sorry server multicast", "sorry_server = \"224.0.0.5:80\"", "", []string{"gw.toml:15: service[0].sorry_server: sorry server 224.0.0.5:80 is not a unicast IPv4 address"}},
		{"sorry server garbage", "sorry_server = \"rs9\"", "", []string{"service[0].sorry_server: \"rs9\""}},
		{"quorum 0", "quorum = 0", "", []string{"service[0].quorum: 0 must be at least 1"}},
		{"sorry server is a destination", "sorry_server = \"198.18.2.11:8080\"", "", []string{"is the sorry server"}},
		{"every problem", "quorum = -1\n[service.check]\ntype = \"tcp\"\nrise = 0\nfall = 0", "", []string{"quorum", "check.rise", "check.fall"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseService(t, tc.svc, tc.dest)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not say %q (after offset %d)", msg, w, at)
				}
				at += i + len(w)
			}
		})
	}
}
