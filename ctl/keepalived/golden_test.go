package keepalived

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"fngw/ctl/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestGolden converts testdata/keepalived.conf (and the files it includes)
// and compares the TOML and the list of what was not translated with
// testdata/keepalived.toml and testdata/keepalived.items; go test -update
// rewrites them (review the difference).
func TestGolden(t *testing.T) {
	svcs, items, err := Import("testdata/keepalived.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out, list bytes.Buffer
	if err := WriteTOML(&out, "testdata/keepalived.conf", svcs); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		list.WriteString(it.String() + "\n")
	}
	golden(t, "testdata/keepalived.toml", out.Bytes())
	golden(t, "testdata/keepalived.items", list.Bytes())
	checkTOML(t, out.Bytes())
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkTOML checks that out is TOML and that its [[service]] tables, with
// the keys health checking adds left out, are a valid configuration for
// ctl/config on a gateway with ports dpdk0 (198.18.1.1/24) and dpdk1
// (198.18.2.1/24).
func checkTOML(t *testing.T, out []byte) {
	t.Helper()
	var doc map[string]any
	if _, err := toml.Decode(string(out), &doc); err != nil {
		t.Fatalf("not TOML: %v\n%s", err, out)
	}
	svcs, _ := doc["service"].([]map[string]any)
	for _, s := range svcs {
		for _, k := range []string{"quorum", "sorry_server", "alpha", "notify_up", "notify_down", "check"} {
			delete(s, k)
		}
		dests, _ := s["dest"].([]map[string]any)
		for _, d := range dests {
			delete(d, "check")
		}
	}
	var b strings.Builder
	b.WriteString(gatewayTOML)
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("converted", []byte(b.String())); err != nil {
		t.Fatalf("ctl/config refuses the services: %v\n%s", err, b.String())
	}
}

const gatewayTOML = `
[eal]
lcores = "0-1"
[[port]]
name = "dpdk0"
device = "net_tap0,iface=gwc0"
addrs = ["198.18.1.1/24"]
[[port]]
name = "dpdk1"
device = "net_tap1,iface=gws0"
addrs = ["198.18.2.1/24"]
`
