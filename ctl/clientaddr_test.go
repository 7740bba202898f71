package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// applyLine parses an ipvsadm command line and applies it to c.
func applyLine(c *Config, line string) error {
	cmd, err := ParseArgs(strings.Fields(line))
	if err != nil {
		return err
	}
	return c.Apply(cmd)
}

// TestClientAddrOptionsParse: --proxy-protocol and --toa on -A and -E.
func TestClientAddrOptionsParse(t *testing.T) {
	vip := mustAddr("198.18.1.100")
	for _, tt := range []struct {
		line string
		want Service
	}{
		{"-A -t 198.18.1.100:80 --proxy-protocol v1", Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", ProxyProtocol: ProxyV1}},
		{"-A -t 198.18.1.100:80 -s rr --proxy-protocol=v2", Service{Proto: TCP, VIP: vip, Port: 80, Sched: "rr", ProxyProtocol: ProxyV2}},
		{"-A -u 198.18.1.100:53 --proxy-protocol 2", Service{Proto: UDP, VIP: vip, Port: 53, Sched: "wlc", ProxyProtocol: ProxyV2}},
		{"-E -t 198.18.1.100:80 --toa", Service{Proto: TCP, VIP: vip, Port: 80, Sched: "wlc", TOA: true}},
	} {
		cmd, err := ParseArgs(strings.Fields(tt.line))
		if err != nil {
			t.Errorf("%s: %v", tt.line, err)
			continue
		}
		if cmd.Service == nil || !cmd.Service.Equal(tt.want) {
			t.Errorf("%s: service %+v, want %+v", tt.line, cmd.Service, tt.want)
		}
		// The rendered command reads back as the same command.
		back, err := ParseArgs(cmd.Args())
		if err != nil || !back.Service.Equal(*cmd.Service) {
			t.Errorf("%s: Args %q read back as %+v, %v", tt.line, cmd.Args(), back.Service, err)
		}
	}
}

// TestClientAddrOptionsRefused: every refusal names the value and what is
// accepted, and leaves the configuration as it was.
func TestClientAddrOptionsRefused(t *testing.T) {
	for _, tt := range []struct {
		setup []string
		line  string
		want  string // in the message
		usage bool   // a *UsageError rather than ErrInvalid
	}{
		{nil, "-A -t 198.18.1.100:80 --proxy-protocol v3", `unknown PROXY protocol version "v3"; use v1 or v2`, false},
		{nil, "-A -t 198.18.1.100:80 --proxy-protocol", "needs an argument: v1 or v2", true},
		{nil, "-A -t 198.18.1.100:80 --proxy-protocol v2 --toa", "choose one", false},
		{nil, "-A -u 198.18.1.100:53 --proxy-protocol v1", "UDP services take v2", false},
		{nil, "-A -u 198.18.1.100:53 --toa", "TOA is a TCP option", false},
		{nil, "-A -t [2001:db8::1]:80 --toa", "IPv4 services only", false},
		{nil, "-a -t 198.18.1.100:80 -r 198.18.2.11 --toa", "--toa (toa) is not allowed with the add-server command", true},
		{nil, "-L --proxy-protocol v1", "not allowed with the list command", true},
		{nil, "-A -t 198.18.1.100:80 --toa --toa", "given twice", true},
		{[]string{"-A -t 198.18.1.100:80 --proxy-protocol v2"}, "-a -t 198.18.1.100:80 -r 198.18.2.11:8080 -m",
			"real server 198.18.2.11:8080: the PROXY protocol (--proxy-protocol v2) needs fullnat (--fullnat) real servers, not masq", false},
		{[]string{"-A -t 198.18.1.100:80 --toa"}, "-a -t 198.18.1.100:80 -r 198.18.2.11",
			"TOA (--toa) needs fullnat (--fullnat) real servers, not route", false},
		{[]string{"-A -t 198.18.1.100:80", "-a -t 198.18.1.100:80 -r 198.18.2.11 -i"}, "-E -t 198.18.1.100:80 --proxy-protocol v1",
			"needs fullnat (--fullnat) real servers, not tunnel", false},
		{[]string{"-A -t 198.18.1.100:80 --toa", "-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat"}, "-e -t 198.18.1.100:80 -r 198.18.2.11:80 -g",
			"not route", false},
	} {
		c := NewConfig()
		for _, s := range tt.setup {
			if err := applyLine(c, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		before := c.Clone()
		err := applyLine(c, tt.line)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.line, err, tt.want)
			continue
		}
		var ue *UsageError
		if tt.usage != errors.As(err, &ue) || !tt.usage && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %T %v: usage %v", tt.line, err, err, tt.usage)
		}
		if !c.Equal(before) {
			t.Errorf("%s: the configuration changed", tt.line)
		}
	}
}

// TestClientAddrListSaveRestore: the options in -L (after ipvsadm's
// columns), --json, and -S, which -R reads back to the same configuration;
// a service without them lists and saves as before.
func TestClientAddrListSaveRestore(t *testing.T) {
	c := NewConfig()
	for _, l := range []string{
		"-A -t 198.18.1.100:80 -s rr --proxy-protocol v1",
		"-a -t 198.18.1.100:80 -r 198.18.2.11:8080 --fullnat",
		"-A -t 198.18.1.100:443 -p 60 --proxy-protocol v2",
		"-A -t 198.18.1.100:81 --toa",
		"-A -u 198.18.1.100:53 -s rr --proxy-protocol v2",
		"-A -t 198.18.1.100:82 -s rr",
		"-a -t 198.18.1.100:82 -r 198.18.2.11:80 -m",
	} {
		if err := applyLine(c, l); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	var b bytes.Buffer
	if err := WriteList(&b, c.Table(4096), nil, ListOptions{Numeric: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"TCP  198.18.1.100:80 rr proxy-protocol v1\n  -> 198.18.2.11:8080             FullNat 1      0          0         \n",
		"TCP  198.18.1.100:81 wlc toa\n",
		"TCP  198.18.1.100:82 rr\n  -> 198.18.2.11:80               Masq    1      0          0         \n",
		"TCP  198.18.1.100:443 wlc persistent 60 proxy-protocol v2\n",
		"UDP  198.18.1.100:53 rr proxy-protocol v2\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("listing lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteList(&b, c.Table(4096), nil, ListOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Services []struct {
			Service struct {
				Port          int    `json:"port"`
				ProxyProtocol string `json:"proxy_protocol"`
				TOA           bool   `json:"toa"`
			} `json:"service"`
		} `json:"services"`
	}
	if err := json.Unmarshal(b.Bytes(), &js); err != nil {
		t.Fatalf("%v in %s", err, b.String())
	}
	got := map[int]string{}
	for _, s := range js.Services {
		got[s.Service.Port] += s.Service.ProxyProtocol
		if s.Service.TOA {
			got[s.Service.Port] += "toa"
		}
	}
	if want := map[int]string{80: "v1", 443: "v2", 81: "toa", 53: "v2", 82: ""}; len(got) != len(want) || got[80] != "v1" || got[443] != "v2" || got[81] != "toa" || got[53] != "v2" || got[82] != "" {
		t.Errorf("json options %v, want %v", got, want)
	}
	if strings.Contains(b.String(), `"proxy_protocol":""`) || strings.Count(b.String(), `"toa"`) != 1 {
		t.Errorf("json shows the options of services without them:\n%s", b.String())
	}

	b.Reset()
	if err := WriteSave(&b, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"-A -t 198.18.1.100:80 -s rr --proxy-protocol v1\n-a -t 198.18.1.100:80 -r 198.18.2.11:8080 --fullnat -w 1\n",
		"-A -t 198.18.1.100:81 -s wlc --toa\n",
		"-A -t 198.18.1.100:82 -s rr\n",
		"-A -t 198.18.1.100:443 -s wlc -p 60 --proxy-protocol v2\n",
		"-A -u 198.18.1.100:53 -s rr --proxy-protocol v2\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("save lacks %q:\n%s", want, b.String())
		}
	}
	cmds, err := ReadRestore(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	r := NewConfig()
	if err := r.ApplyBatch(cmds); err != nil {
		t.Fatal(err)
	}
	if !r.Equal(c) {
		t.Errorf("restored configuration differs:\n%+v\nwant\n%+v", r.Services, c.Services)
	}

	// The canonical text form round-trips too.
	for _, vs := range c.Services {
		s, err := ParseService(vs.Service.String())
		if err != nil || !s.Equal(vs.Service) {
			t.Errorf("ParseService(%q) = %+v, %v", vs.Service.String(), s, err)
		}
	}
}
