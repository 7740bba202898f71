package keepalived

import (
	"bytes"
	"strings"
	"testing"
)

// translate converts conf (a whole keepalived.conf) and returns the TOML
// and the items.
func translate(t *testing.T, conf string) (string, []Item) {
	t.Helper()
	top, items := Parse("k.conf", []byte(conf), Options{FS: mapFS{}})
	svcs, more := Convert(top)
	var b bytes.Buffer
	if err := WriteTOML(&b, "k.conf", svcs); err != nil {
		t.Fatal(err)
	}
	return b.String(), append(items, more...)
}

// rs is a real server with a TCP check, for cases about the service.
const rs = "real_server 198.18.2.11 80 {\n TCP_CHECK {\n }\n}\n"

// TestDirectives: each keepalived directive, inside a virtual_server (or a
// real_server, or a checker), gives these TOML lines and lists these items.
func TestDirectives(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vs    string // the virtual_server block's body
		want  []string
		items string // "|"-separated substrings of the items; "" none
	}{
		{"defaults", rs, []string{`proto = "tcp"`, `vip = "198.18.1.100:80"`, `sched = "wlc"`, `fwd = "masq"`, `weight = 1`,
			`[service.check]`, `type = "tcp"`, `interval = "60s"`, `timeout = "5s"`, `rise = 1`, `fall = 2`, `on_failure = "remove"`}, ""},
		{"lb_algo", "lb_algo rr\n" + rs, []string{`sched = "rr"`}, ""},
		{"lvs_sched", "lvs_sched mh\nmh-port\nmh-fallback\n" + rs, []string{`sched = "mh"`, `flags = ["mh-fallback", "mh-port"]`}, ""},
		{"unknown scheduler", "lb_algo conhash\n" + rs, []string{`sched = "wlc"`}, `lb_algo conhash: scheduler "conhash" is not in fngw; wlc written instead`},
		{"sh flags", "lb_algo sh\nsh-port\nflag-1\n" + rs, []string{`flags = ["sh-fallback", "sh-port"]`}, ""},
		{"flag for another scheduler", "lb_algo rr\nsh-port\n" + rs, []string{`sched = "rr"`}, `sh-port: scheduler flag "sh-port" needs scheduler sh, not rr`},
		{"flag-3", "lb_algo sh\nflag-3\n" + rs, nil, "flag-3: no fngw equivalent"},
		{"lb_kind DR", "lb_kind DR\n" + rs, []string{`fwd = "route"`}, ""},
		{"lvs_method TUN", "lvs_method TUN\n" + rs, []string{`fwd = "tunnel"`}, ""},
		{"TUN ipip", "lvs_method TUN type ipip\n" + rs, []string{`fwd = "tunnel"`}, ""},
		{"TUN gue", "lvs_method TUN type gue port 6080\n" + rs, []string{`fwd = "tunnel"`}, "IPIP without options"},
		{"lb_kind FNAT", "lb_kind FNAT\n" + rs, []string{`fwd = "fullnat"`, `# laddrs = ["ADDR dev PORT"]  # FULLNAT needs local addresses; keepalived has none to translate`}, "FULLNAT needs local addresses"},
		{"lower-case method", "lb_kind dr\n" + rs, []string{`fwd = "masq"`}, `forwarding method "dr"`},
		{"real server method", "lb_kind DR\nreal_server 198.18.2.11 80 {\n lvs_method NAT\n}\n", []string{`fwd = "masq"`}, ""},
		{"DR keeps the service port", "lb_kind DR\nreal_server 198.18.2.11 8080 {\n TCP_CHECK {\n }\n}\n",
			[]string{`addr = "198.18.2.11:80"`, `port = 8080`}, ""},
		{"NAT to another port", "real_server 198.18.2.11 8080 {\n}\n", []string{`addr = "198.18.2.11:8080"`}, ""},
		{"real server without a port", "real_server 198.18.2.11 {\n}\n", []string{`addr = "198.18.2.11:80"`}, ""},
		{"persistence_timeout", "persistence_timeout 600\n" + rs, []string{`persistent = 600`}, ""},
		{"persistence_timeout without value", "persistence_timeout\n" + rs, []string{`persistent = 360`}, ""},
		{"ops", "ops\n" + rs, []string{`ops = true`}, ""},
		{"persistence_granularity", "persistence_granularity 255.255.255.0\n" + rs, []string{`persistent = 360`, `netmask = "255.255.255.0"`}, ""},
		{"bad granularity", "persistence_timeout 60\npersistence_granularity 255.0.255.0\n" + rs, nil, "persistence_granularity 255.0.255.0:"},
		{"protocol UDP", "protocol udp\n" + rs, []string{`proto = "udp"`}, ""},
		{"protocol SCTP", "protocol SCTP\n" + rs, nil, "protocol SCTP: fngw balances TCP and UDP"},
		{"quorum", "quorum 3\n" + rs, []string{`quorum = 3`}, ""},
		{"quorum 0", "quorum 0\n" + rs, nil, `quorum 0: "0" is not a number from 1`},
		{"hysteresis 0", "hysteresis 0\n" + rs, nil, ""},
		{"hysteresis", "hysteresis 2\n" + rs, nil, "hysteresis 2: fngw has no quorum hysteresis"},
		{"quorum_up", "quorum_up \"/bin/up.sh\"\nquorum_down /bin/down.sh\n" + rs, nil, "quorum_up \"/bin/up.sh\": fngw runs no script on quorum changes|quorum_down /bin/down.sh"},
		{"sorry_server", "sorry_server 198.18.2.99 8080\n" + rs, []string{`sorry_server = "198.18.2.99:8080"`}, ""},
		{"sorry_server without port", "sorry_server 198.18.2.99\n" + rs, []string{`sorry_server = "198.18.2.99:80"`}, ""},
		{"sorry_server_inhibit", "sorry_server 198.18.2.99\nsorry_server_inhibit\n" + rs, nil, "sorry_server_inhibit: no fngw equivalent"},
		{"alpha", "alpha\n" + rs, []string{`alpha = true`}, ""},
		{"real server alpha differs", "alpha\nreal_server 198.18.2.11 80 {\n alpha off\n TCP_CHECK {\n }\n}\n", []string{`alpha = true`}, "alpha off: alpha is per service"},
		{"laddr group", "lb_kind FNAT\nladdr_group_name g\n" + rs + "}\nlocal_address_group g {\n 198.18.2.100-102 dpdk1\n 198.18.2.110\n",
			[]string{`laddrs = ["198.18.2.100 dev dpdk1", "198.18.2.101 dev dpdk1", "198.18.2.102 dev dpdk1", "198.18.2.110"]`}, ""},
		{"laddr group missing", "lb_kind FNAT\nladdr_group_name g\n" + rs, nil, `laddr_group_name g: no local_address_group "g"|FULLNAT needs local addresses`},
		{"DPVS options", "syn_proxy\nestablish_timeout 60\n" + rs, nil, "syn_proxy: a DPVS option|establish_timeout 60: a DPVS option"},
		{"ip_family inet6", "ip_family inet6\n" + rs, nil, "ip_family inet6: only IPv4"},
		{"unknown", "frobnicate 1\n" + rs, nil, "frobnicate 1: unknown keyword in virtual_server"},
		{"bad number", "delay_loop soon\n" + rs, []string{`interval = "60s"`}, `delay_loop soon: "soon" is not a time`},
		{"fractional timers", "delay_loop 2.5\nconnect_timeout 0.25\n" + rs, []string{`interval = "2500ms"`, `timeout = "250ms"`}, ""},

		// real_server
		{"weight", "real_server 198.18.2.11 80 {\n weight 0\n}\n", []string{`weight = 0`}, ""},
		{"weight out of range", "real_server 198.18.2.11 80 {\n weight 70000\n}\n", []string{`weight = 1`}, `weight 70000: "70000" is not a number from 0 to 65535`},
		{"thresholds", "real_server 198.18.2.11 80 {\n uthreshold 100\n lthreshold 50\n}\n", []string{`u_threshold = 100`, `l_threshold = 50`}, ""},
		{"thresholds inverted", "real_server 198.18.2.11 80 {\n uthreshold 10\n lthreshold 50\n}\n", nil, "lthreshold 50 is above uthreshold 10"},
		{"notify same", "real_server 198.18.2.11 80 {\n notify_up \"/n.sh up\"\n}\nreal_server 198.18.2.12 80 {\n notify_up \"/n.sh up\"\n}\n",
			[]string{`notify_up = "/n.sh up"`}, ""},
		{"notify differs", "real_server 198.18.2.11 80 {\n notify_down \"/n.sh 11\"\n}\nreal_server 198.18.2.12 80 {\n notify_down \"/n.sh 12\"\n}\n",
			nil, `k.conf:3: notify_down "/n.sh 11": the real servers' scripts differ|k.conf:6: notify_down "/n.sh 12"`},
		{"notify user", "real_server 198.18.2.11 80 {\n notify_up /n.sh nobody\n}\n", []string{`notify_up = "/n.sh"`}, `runs as user "nobody"`},
		{"IPv6 real server", "real_server 2001:db8::1 80 {\n}\n", nil, "2001:db8::1: IPv6 is not served yet"},
		{"unsupported checker", "real_server 198.18.2.11 80 {\n PING_CHECK {\n }\n}\n", nil, "PING_CHECK: fngw has tcp, http"},
		{"two checkers", "real_server 198.18.2.11 80 {\n TCP_CHECK {\n }\n MISC_CHECK {\n  misc_path /c.sh\n }\n}\n", []string{`type = "tcp"`}, "MISC_CHECK: fngw runs one checker"},

		// inheritance and the health mapping
		{"retry", "retry 4\n" + rs, []string{`fall = 5`}, ""},
		{"retry 0", "real_server 198.18.2.11 80 {\n TCP_CHECK {\n  retry 0\n }\n}\n", []string{`fall = 1`}, ""},
		{"nb_get_retry", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  nb_get_retry 3\n  url {\n   path /\n  }\n }\n}\n", []string{`fall = 4`}, ""},
		{"checker overrides real server overrides virtual server", "delay_loop 9\nconnect_timeout 9\nreal_server 198.18.2.11 80 {\n delay_loop 3\n TCP_CHECK {\n  connect_timeout 1\n }\n}\n",
			[]string{`interval = "3s"`, `timeout = "1s"`}, ""},
		{"inhibit_on_failure", "inhibit_on_failure\n" + rs, []string{`on_failure = "inhibit"`}, ""},
		{"real server inhibit off", "inhibit_on_failure\nreal_server 198.18.2.11 80 {\n inhibit_on_failure false\n TCP_CHECK {\n }\n}\n", []string{`on_failure = "remove"`}, ""},
		{"delay_before_retry as delay_loop", "delay_loop 3\ndelay_before_retry 3\n" + rs, nil, ""},
		{"delay_before_retry", "delay_loop 3\ndelay_before_retry 1\n" + rs + "real_server 198.18.2.12 80 {\n TCP_CHECK {\n }\n}\n",
			nil, "k.conf:3: delay_before_retry 1: fngw checks every interval (3s), also after a failure"},
		{"warmup", "warmup 5\n" + rs, nil, "warmup 5: fngw spreads the first checks"},
		{"hoisted when equal", rs + "real_server 198.18.2.12 80 {\n TCP_CHECK {\n }\n}\n", []string{"[service.check]"}, ""},
		{"per destination when different", rs + "real_server 198.18.2.12 80 {\n TCP_CHECK {\n  connect_port 81\n }\n}\n",
			[]string{"[service.dest.check]\ntype = \"tcp\"\ninterval = \"60s\"", "[service.dest.check]\ntype = \"tcp\"\nport = 81"}, ""},
		{"per destination when one has none", rs + "real_server 198.18.2.12 80 {\n}\n", []string{"[service.dest.check]"}, ""},

		// checkers
		{"TCP_CHECK", "real_server 198.18.2.11 80 {\n TCP_CHECK {\n  connect_ip 198.18.2.11\n  connect_port 8080\n  bindto 198.18.2.1\n }\n}\n",
			[]string{`port = 8080`, `source = "198.18.2.1"`}, ""},
		{"connect_ip elsewhere", "real_server 198.18.2.11 80 {\n TCP_CHECK {\n  connect_ip 198.18.2.12\n  bind_port 999\n }\n}\n", nil,
			"connect_ip 198.18.2.12: fngw checks the real server's own address|bind_port 999: no fngw equivalent"},
		{"HTTP_GET", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  url {\n   path /healthz\n   status_code 200 301-302\n   digest 9B3A0C85A887A256D6939DA88AABD8CD\n   regex \"^ok\\\\s\"\n  }\n }\n}\n",
			[]string{`type = "http"`, `path = "/healthz"`, `expect_status = [200, 301, 302]`, `digest = "9b3a0c85a887a256d6939da88aabd8cd"`, `expect_body_regex = "^ok\\s"`, `fall = 2`}, ""},
		{"SSL_GET", "real_server 198.18.2.11 443 {\n SSL_GET {\n  enable_sni\n  url {\n   path /\n   virtualhost www.example.org\n  }\n }\n}\n",
			[]string{`type = "https"`, `path = "/"`}, "enable_sni: no fngw equivalent|virtualhost www.example.org: no fngw equivalent"},
		{"HTTP without url", "real_server 198.18.2.11 80 {\n HTTP_GET {\n }\n}\n", nil, "HTTP_GET: an HTTP check needs a url"},
		{"second url", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  url {\n   path /a\n  }\n  url {\n   path /b\n  }\n }\n}\n", []string{`path = "/a"`}, "url { path /b }: fngw's HTTP check requests one path"},
		{"status range", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  url {\n   path /\n   status_code 200-210 404\n  }\n }\n}\n",
			[]string{"expect_status = [\n  200, 201, 202, 203, 204, 205, 206, 207, 208, 209,\n  210, 404,\n]"}, ""},
		{"bad status", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  url {\n   path /\n   status_code 2xx\n  }\n }\n}\n", nil, `status_code 2xx: "2xx" is not a status code`},
		{"bad digest", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  url {\n   path /\n   digest abc\n  }\n }\n}\n", nil, `digest abc: "abc" is not an MD5 digest`},
		{"PCRE regex", "real_server 198.18.2.11 80 {\n HTTP_GET {\n  url {\n   path /\n   regex \"(?<=a)b\"\n  }\n }\n}\n", nil, "fngw's regular expressions are Go's (RE2)"},
		{"UDP_CHECK", "protocol UDP\nreal_server 198.18.2.11 80 {\n UDP_CHECK {\n  payload Ab12f 3 456\n  require_reply 0a0B\n }\n}\n",
			[]string{`type = "udp"`, `payload = "ab120f034506"`, `expect = "0a0b"`}, ""},
		{"require_reply any", "protocol UDP\nreal_server 198.18.2.11 80 {\n UDP_CHECK {\n  require_reply\n  max_reply_length 10\n }\n}\n", nil,
			"require_reply: a reply of any content|max_reply_length 10: no fngw equivalent"},
		{"require_reply wild", "protocol UDP\nreal_server 198.18.2.11 80 {\n UDP_CHECK {\n  require_reply 0aXX\n }\n}\n", nil, "wild digits"},
		{"DNS_CHECK", "protocol UDP\nreal_server 198.18.2.11 53 {\n DNS_CHECK {\n  type aaaa\n  name example.org\n }\n}\n",
			[]string{`type = "dns"`, `name = "example.org"`, `qtype = "AAAA"`, `fall = 4`}, ""},
		{"DNS_CHECK defaults", "protocol UDP\nreal_server 198.18.2.11 53 {\n DNS_CHECK {\n }\n}\n", []string{`name = "."`, `qtype = "SOA"`}, ""},
		{"MISC_CHECK", "delay_loop 7\nreal_server 198.18.2.11 80 {\n MISC_CHECK {\n  misc_path \"/c.sh -x 'a b'\"\n  misc_dynamic\n }\n}\n",
			[]string{`type = "misc"`, `command = "/c.sh -x 'a b'"`, `timeout = "7s"`, `fall = 1`}, "misc_dynamic: no fngw equivalent"},
		{"misc_timeout", "real_server 198.18.2.11 80 {\n MISC_CHECK {\n  misc_path /c.sh\n  misc_timeout 4\n  user nobody\n }\n}\n", []string{`timeout = "4s"`}, "user nobody: no fngw equivalent"},
		{"MISC without path", "real_server 198.18.2.11 80 {\n MISC_CHECK {\n }\n}\n", nil, "a MISC_CHECK needs misc_path"},
		{"MISC has no connect_timeout", "real_server 198.18.2.11 80 {\n MISC_CHECK {\n  misc_path /c.sh\n  connect_timeout 2\n }\n}\n", nil, "connect_timeout 2: unknown keyword in MISC_CHECK"},
		{"MISC does not retry", "delay_before_retry 2\nreal_server 198.18.2.11 80 {\n MISC_CHECK {\n  misc_path /c.sh\n }\n}\n", nil, ""},
		{"same real server twice", rs + rs, nil, "k.conf:6: real_server 198.18.2.11 80: the same real server twice"},
		{"unknown checker keyword", "real_server 198.18.2.11 80 {\n TCP_CHECK {\n  path /\n }\n}\n", nil, "path /: unknown keyword in TCP_CHECK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, items := translate(t, "virtual_server 198.18.1.100 80 {\n"+tc.vs+"}\n")
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("no %q in\n%s", w, out)
				}
			}
			checkItems(t, items, tc.items)
		})
	}
}

// TestTop: what is not a virtual_server is noted (not load balancing) or
// listed; virtual servers the gateway cannot serve yet are listed whole.
func TestTop(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		items      string
		notes      int // how many of the items are notes
	}{
		{"vrrp", "vrrp_instance VI_1 {\n state MASTER\n}\nvrrp_sync_group G {\n}\nvrrp_script chk {\n}\n", "vrrp_instance VI_1 (VRRP stays with keepalived|vrrp_sync_group G|vrrp_script chk", 3},
		{"global and static", "global_defs {\n router_id a\n}\nstatic_ipaddress {\n 1.2.3.4/32 dev lo\n}\n", "global_defs (keepalived's own settings)|static_ipaddress", 2},
		{"unknown", "bogus {\n}\n", "bogus: unknown keyword", 0},
		{"fwmark", "virtual_server fwmark 1 {\n real_server 198.18.2.1 80 {\n }\n}\n", "virtual_server fwmark 1: not translated: the marks come from iptables rules", 0},
		{"group", "virtual_server_group G {\n 198.18.1.1 80\n}\nvirtual_server group G {\n}\n", "not translated: virtual_server_group G|virtual_server group G: virtual server groups are not supported yet", 1},
		{"IPv6", "virtual_server 2001:db8::1 80 {\n}\n", "IPv6 is not served yet", 0},
		{"bad address", "virtual_server 198.18.1 80 {\n}\n", `"198.18.1" is not an IP address`, 0},
		{"no port, not persistent", "virtual_server 198.18.1.1 {\n}\n", "must be persistent", 0},
		{"no port, persistent", "virtual_server 198.18.1.1 {\n persistence_timeout 60\n}\n", "", 0},
		{"unused laddr group", "local_address_group g {\n 198.18.2.100 dpdk1\n}\n", "local_address_group g (no virtual_server names it", 1},
		{"same service twice", "virtual_server 198.18.1.1 80 {\n}\nvirtual_server 198.18.1.1 80 {\n protocol UDP\n}\nvirtual_server 198.18.1.1 80 {\n}\n",
			"k.conf:6: virtual_server 198.18.1.1 80: the same service as the virtual_server at k.conf:1", 0},
		{"SSL", "SSL {\n password x\n}\n", "SSL: SSL_GET client certificates", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, items := translate(t, tc.conf)
			checkItems(t, items, tc.items)
			notes := 0
			for _, it := range items {
				if it.Note {
					notes++
				}
			}
			if notes != tc.notes {
				t.Errorf("%d notes, want %d:\n%s", notes, tc.notes, itemStrings(items))
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		`a`:          `"a"`,
		`a"b\c`:      `"a\"b\\c"`,
		"t\tn\n\x01": `"t\tn\n\u0001"`,
		"\xff":       `"` + "\uFFFD" + `"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
