package ctl

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withCheck returns c with service svc's health set to h and destination
// dest's own check to dc (the configuration file's way of setting them).
func withCheck(t *testing.T, c *Config, svc string, h Health, dest string, dc Check) *Config {
	t.Helper()
	c = c.Clone()
	k, err := ParseServiceKey(svc)
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := c.Lookup(k)
	s := vs.Service
	s.Health = h
	if err := c.setService(s); err != nil {
		t.Fatal(err)
	}
	if dest != "" {
		for _, d := range vs.Dests {
			if d.Key().String() == dest {
				d.Check = dc
				if err := c.editDest(k, d, false); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return c
}

var httpCheck = Check{Type: CheckHTTP, Path: "/healthz", Interval: Duration(time.Second), Timeout: Duration(time.Second),
	Rise: 2, Fall: 2, OnFailure: OnFailureInhibit}

// TestMergeChecks: a check changed in the file is a change of its service
// or destination, reported as such; an unchanged check is no change; the
// runtime's ipvsadm -E and -e keep the checks (ipvsadm cannot say them).
func TestMergeChecks(t *testing.T) {
	plain := config(t, svc80, rs11, rs12)
	base := withCheck(t, plain, "198.18.1.100:80/tcp", Health{Check: httpCheck}, "", Check{})
	running := base.Clone()
	// Runtime edits through ipvsadm keep the health settings.
	for _, l := range []string{"-E -t 198.18.1.100:80 -s wrr", "-e -t 198.18.1.100:80 -r 198.18.2.11:80 -m -w 5"} {
		cmd, err := ParseArgs(strings.Fields(l))
		if err != nil {
			t.Fatal(err)
		}
		if err := running.Apply(cmd); err != nil {
			t.Fatal(err)
		}
	}
	if vs := running.Services[0]; vs.Service.Health != base.Services[0].Service.Health {
		t.Fatalf("ipvsadm -E lost the health settings: %+v", vs.Service.Health)
	}
	if _, changes, err := Merge(base, base, running); err != nil || len(changes) != 0 {
		t.Fatalf("unchanged file: %v %v", changes, err)
	}

	// One destination's check changed in the file: that destination only.
	tcp := Check{Type: CheckTCP, Port: 81, Interval: Duration(time.Second), Timeout: Duration(time.Second), Rise: 1, Fall: 2, OnFailure: OnFailureRemove}
	file := withCheck(t, base, "198.18.1.100:80/tcp", Health{Check: httpCheck}, "198.18.2.12:80", tcp)
	got, changes, err := Merge(base, file, running)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"~ dest 198.18.2.12:80 of 198.18.1.100:80/tcp: check http GET /healthz every 1s→tcp :81 every 1s"}
	if s := changeStrings(changes); !reflect.DeepEqual(s, want) {
		t.Errorf("changes %q, want %q", s, want)
	}
	if d := got.Services[0].Dests[1]; CheckOf(got.Services[0].Service, d) != tcp {
		t.Errorf("dest check %+v", d.Check)
	}
	if got.Services[0].Service.Sched != "wrr" || got.Services[0].Dests[0].Weight != 5 {
		t.Errorf("runtime changes lost: %+v", got.Services[0])
	}

	// The service's check and quorum changed: the service, with what changed.
	h := Health{Check: httpCheck, Quorum: 2, SorryServer: netip.MustParseAddrPort("198.18.2.99:80")}
	h.Check.Fall = 3
	file = withCheck(t, base, "198.18.1.100:80/tcp", h, "", Check{})
	got, changes, err = Merge(base, file, base)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"~ service tcp 198.18.1.100:80 rr: check fall 2→3, quorum 1→2, sorry_server invalid AddrPort→198.18.2.99:80"}
	if s := changeStrings(changes); !reflect.DeepEqual(s, want) {
		t.Errorf("changes %q, want %q", s, want)
	}
	if got.Services[0].Service.Health != h {
		t.Errorf("health %+v", got.Services[0].Service.Health)
	}
	// And removed from the file: gone.
	if got, _, err = Merge(file, plain, got); err != nil || got.Services[0].Service.Health != (Health{}) {
		t.Errorf("check removed from the file: %v %+v", err, got.Services[0].Service.Health)
	}
}

func changeStrings(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// TestCheckJSON: a service's health and a destination's check in -L
// --json's vocabulary, and back.
func TestCheckJSON(t *testing.T) {
	c := httpCheck
	c.ExpectStatus.Add(200)
	c.ExpectStatus.Add(301)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"type":"http","path":"/healthz","expect_status":[200,301],"interval":"1s","timeout":"1s","rise":2,"fall":2,"on_failure":"inhibit"}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back Check
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

// TestStatusSet: the empty set is any 2xx, keepalived's default.
func TestStatusSet(t *testing.T) {
	var s StatusSet
	if !s.Match(200) || !s.Match(299) || s.Match(301) || s.Match(503) {
		t.Error("empty set is not any 2xx")
	}
	s.Add(503)
	s.Add(100)
	s.Add(599)
	if s.Match(200) || !s.Match(503) || !reflect.DeepEqual(s.Codes(), []int{100, 503, 599}) {
		t.Errorf("set %v", s.Codes())
	}
	if s.Add(600) == nil || s.Add(99) == nil {
		t.Error("out of range codes accepted")
	}
}

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		"/bin/check 10.0.0.1 80":               {"/bin/check", "10.0.0.1", "80"},
		`/bin/sh -c "exit 1"`:                  {"/bin/sh", "-c", "exit 1"},
		"  /x  'a b'\tc #mail":                 {"/x", "a b", "c", "#mail"},
		`""`:                                   {""},
		"":                                     nil,
		`/usr/local/bin/rs-notify.sh up #mail`: {"/usr/local/bin/rs-notify.sh", "up", "#mail"},
	} {
		if got := SplitCommand(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckShowText: gw check show's columns, ages counted to now.
func TestCheckShowText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc := Service{Proto: TCP, VIP: netip.MustParseAddr("198.18.1.100"), Port: 80, Sched: "wlc"}
	var b bytes.Buffer
	err := WriteChecks(&b, []CheckStatus{
		{Service: svc, Dest: DestKey{netip.MustParseAddr("198.18.2.11"), 80}, Check: "http GET /healthz every 1s", State: StateDown,
			Since: now.Add(-125 * time.Second), Transitions: 1, Last: now.Add(-time.Second), Reason: "status 503", Latency: 1520 * time.Microsecond, Weight: 3},
		{Service: svc, Dest: DestKey{netip.MustParseAddr("198.18.2.99"), 80}, Sorry: true, State: StateDisabled, Weight: 1},
	}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `SERVICE              DESTINATION             STATE     WEIGHT  SINCE     TRANS  CHECK                       LAST RESULT
198.18.1.100:80/tcp  198.18.2.11:80          down      0/3     2m5s ago  1      http GET /healthz every 1s  status 503 (1.5ms, 1s ago)
198.18.1.100:80/tcp  198.18.2.99:80 (sorry)  disabled  0/1     -         0      -                           -
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
