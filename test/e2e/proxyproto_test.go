package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fngw/test/harness"
)

// PROXY protocol end to end: the FULLNAT topology (startFullNAT) with real
// nginx (Debian's package) as the real servers, reading the PROXY protocol
// (`listen ... proxy_protocol`, v1 and v2 alike) and logging the client
// address it names, and a server-speaks-first service.
const (
	ppV1     = fnVIP + ":81" // --proxy-protocol v1 → nginx :8081
	ppV2     = fnVIP + ":82" // --proxy-protocol v2 → nginx :8082
	ppBanner = fnVIP + ":83" // --proxy-protocol v2 → e2epeer banner :8083 (rs1)
	ppUDP    = fnVIP + ":54" // UDP --proxy-protocol v2 → e2epeer serve -udp-proxy :5354 (rs1, rs2)
	ppTOA    = fnVIP + ":84" // --toa → nginx :8084 (no PROXY protocol there)
	ppHA     = fnVIP + ":86" // --proxy-protocol v2 → HAProxy :8086 (rs2, bind ... accept-proxy)
)

// haproxyConf is the configuration of a HAProxy real server on addr:8086
// reading the PROXY protocol: every request is answered "haproxy CLIENT",
// the client as the header names it.
func haproxyConf(addr, dir string) string {
	return fmt.Sprintf(`global
	pidfile %s/haproxy.pid
defaults
	mode http
	timeout connect 5s
	timeout client 10s
	timeout server 10s
frontend pp
	bind %s:8086 accept-proxy
	http-request return status 200 content-type text/plain lf-string "haproxy %%[src]:%%[src_port]"
`, dir, addr)
}

// startHAProxy runs HAProxy in real server i's namespace until the test
// ends, and waits until it listens.
func (tp *fnTopo) startHAProxy(t *testing.T, i int, addr string) {
	t.Helper()
	conf := filepath.Join(tp.dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(haproxyConf(addr, tp.dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(tp.dir, "haproxy.out")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := tp.rs[i].Command("haproxy", "-f", conf, "-db")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting haproxy: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("haproxy output:\n%s", b)
		}
	})
	harness.Eventually(t, 10*time.Second, "haproxy listening", func() error {
		_, err := tp.rs[i].Run("bash", "-c", "exec 3<>/dev/tcp/"+addr+"/8086")
		return err
	})
}

// nginxConf is the configuration of the nginx of real server name (address
// addr), everything under dir: GET / answers "NAME CLIENT" with the client
// the PROXY header names (e2epeer get reads it), /files/ serves www/, PUT
// /up/FILE stores the body under NAME-up/, and every request is logged with
// the PROXY protocol's address and port.
func nginxConf(name, addr, dir string) string {
	p := func(s string) string { return filepath.Join(dir, name+"-"+s) }
	return fmt.Sprintf(`master_process off;
user root;
pid %[1]s;
error_log %[2]s info;
events { worker_connections 1024; }
http {
	log_format pp '$server_port $proxy_protocol_addr:$proxy_protocol_port $request_method $request_uri $status';
	access_log %[3]s pp;
	client_body_temp_path %[4]s;
	proxy_temp_path %[5]s;
	fastcgi_temp_path %[5]s;
	uwsgi_temp_path %[5]s;
	scgi_temp_path %[5]s;
	default_type application/octet-stream;
	keepalive_timeout 0;
	server {
		listen %[6]s:8081 proxy_protocol;
		listen %[6]s:8082 proxy_protocol;
		listen %[6]s:8084;
		client_max_body_size 64m;
		location = / {
			default_type text/plain;
			return 200 "%[7]s $proxy_protocol_addr:$proxy_protocol_port\n";
		}
		location /files/ { alias %[8]s/; }
		location /up/ {
			root %[9]s;
			dav_methods PUT;
			create_full_put_path on;
		}
	}
}
`, p("nginx.pid"), p("error.log"), p("access.log"), p("body"), p("tmp"), addr, name, filepath.Join(dir, "www"), p("up"))
}

// startNginx runs nginx for real server i in its namespace until the test
// ends, and waits until it listens.
func (tp *fnTopo) startNginx(t *testing.T, i int, addr string) {
	t.Helper()
	name := fmt.Sprintf("rs%d", i+1)
	conf := filepath.Join(tp.dir, name+"-nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(name, addr, tp.dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(tp.dir, name+"-nginx.out")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := tp.rs[i].Command("nginx", "-c", conf, "-e", filepath.Join(tp.dir, name+"-error.log"), "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			for _, f := range []string{logPath, filepath.Join(tp.dir, name+"-error.log")} {
				b, _ := os.ReadFile(f)
				t.Logf("%s:\n%s", f, b)
			}
		}
	})
	harness.Eventually(t, 10*time.Second, "nginx of "+name+" listening", func() error {
		_, err := tp.rs[i].Run("bash", "-c", "exec 3<>/dev/tcp/"+addr+"/8081")
		return err
	})
}

// accessLog returns the lines of real server name's nginx access log.
func (tp *fnTopo) accessLog(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tp.dir, name+"-access.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// curl runs curl in the client namespace and returns its output.
func (tp *fnTopo) curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tp.client.Command("curl", append([]string{"-sS", "--max-time", "60"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v: %s\ngateway:\n%s", strings.Join(args, " "), err, out, tp.stats(t))
	}
	return string(out)
}

// TestProxyProtocolNginx: services with --proxy-protocol v1 and v2 over two
// nginx real servers, and a server-speaks-first service:
//
//   - a request from a known client port is logged by nginx with the
//     client namespace's address and that port (v1 and v2), and answered
//     with it;
//   - 200 concurrent short requests all succeed, each answered and logged
//     with the client's address;
//   - an 8 MB download and an 8 MB upload (PUT) through the VIP are
//     byte-identical;
//   - a banner server that speaks first gets the header right after the
//     handshake and greets the client with the client's own address;
//   - UDP with v2: every datagram reaches the echo servers with a header
//     naming the client, and every echo comes back;
//   - HAProxy (bind ... accept-proxy) behind a v2 service names the client
//     too, for one request from a known port and for 200 concurrent ones;
//   - a --toa service: the real servers' Linux (without the TOA module)
//     takes the option and the lowered MSS, an 8 MB download is intact;
//   - gw adm -L shows the options, and nothing was dropped for a reason
//     that means lost traffic.
func TestProxyProtocolNginx(t *testing.T) {
	runProxyProtocol(t, fnOpts{})
}

// TestProxyProtocolNginxTwoWorkers is TestProxyProtocolNginx with two
// workers: the real servers' replies reach the core that owns each session
// (and its side-table entry) through the redirect ring.
func TestProxyProtocolNginxTwoWorkers(t *testing.T) {
	tp := runProxyProtocol(t, fnOpts{cfg: harness.Config{Lcores: "0@0,1@1,2@1"}, queues: 2})
	var out, created [2]uint64
	for i, c := range tp.cores(t) {
		out[i%2], created[i%2] = c.RedirectOut, c.Created
	}
	if created[0] == 0 || created[1] == 0 || out[0]+out[1] == 0 {
		t.Errorf("sessions created per core %v, redirected %v: want both cores used and replies redirected", created, out)
	}
}

// runProxyProtocol is TestProxyProtocolNginx's set-up and traffic on a
// gateway started with o.
func runProxyProtocol(t *testing.T, o fnOpts) *fnTopo {
	for _, prog := range []string{"nginx", "haproxy"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is not installed: run scripts/deps.sh as root", prog)
		}
	}
	tp := startFullNAT(t, o)
	for i, addr := range []string{fnRS1, fnRS2} {
		tp.startNginx(t, i, addr)
	}
	tp.startHAProxy(t, 1, fnRS2)
	ready := filepath.Join(tp.dir, "banner.ready")
	tp.spawn(t, tp.rs[0], "banner", "banner", "-addr", fnRS1+":8083", "-ready", ready)
	harness.Eventually(t, 10*time.Second, "banner server listening", func() error {
		if !fileExists(ready) {
			return fmt.Errorf("no %s", ready)
		}
		return nil
	})
	for i, addr := range []string{fnRS1, fnRS2} {
		name := fmt.Sprintf("udp%d", i+1)
		ready := filepath.Join(tp.dir, name+".ready")
		tp.spawn(t, tp.rs[i], name, "serve", "-name", name, "-http", addr+":8090", "-udp", addr+":5354", "-udp-proxy",
			"-peers", tp.peersFile(name), "-ready", ready)
		harness.Eventually(t, 10*time.Second, name+" listening", func() error {
			if !fileExists(ready) {
				return fmt.Errorf("no %s", ready)
			}
			return nil
		})
	}
	for _, c := range [][]string{
		{"-A", "-u", ppUDP, "-s", "rr", "--proxy-protocol", "v2"},
		{"-a", "-u", ppUDP, "-r", fnRS1 + ":5354", "--fullnat"},
		{"-a", "-u", ppUDP, "-r", fnRS2 + ":5354", "--fullnat"},
		{"--add-laddr", "-z", fnLIP1, "-u", ppUDP, "-F", "dpdk1"},
		{"-A", "-t", ppV1, "-s", "rr", "--proxy-protocol", "v1"},
		{"-a", "-t", ppV1, "-r", fnRS1 + ":8081", "--fullnat"},
		{"-a", "-t", ppV1, "-r", fnRS2 + ":8081", "--fullnat"},
		{"-A", "-t", ppV2, "-s", "rr", "--proxy-protocol", "v2"},
		{"-a", "-t", ppV2, "-r", fnRS1 + ":8082", "--fullnat"},
		{"-a", "-t", ppV2, "-r", fnRS2 + ":8082", "--fullnat"},
		{"-A", "-t", ppBanner, "--proxy-protocol", "v2"},
		{"-a", "-t", ppBanner, "-r", fnRS1 + ":8083", "--fullnat"},
		{"-A", "-t", ppHA, "--proxy-protocol", "v2"},
		{"-a", "-t", ppHA, "-r", fnRS2 + ":8086", "--fullnat"},
		{"-A", "-t", ppTOA, "-s", "rr", "--toa"},
		{"-a", "-t", ppTOA, "-r", fnRS1 + ":8084", "--fullnat"},
		{"-a", "-t", ppTOA, "-r", fnRS2 + ":8084", "--fullnat"},
	} {
		tp.g.MustCmd(append([]string{"adm"}, c...)...)
	}
	for _, svc := range []string{ppV1, ppV2, ppBanner, ppTOA, ppHA} {
		for _, lip := range fnLIPs {
			tp.g.MustCmd("adm", "--add-laddr", "-z", lip, "-t", svc, "-F", "dpdk1")
		}
	}
	list := tp.g.MustCmd("adm", "-L", "-n")
	for _, want := range []string{"TCP  " + ppV1 + " rr proxy-protocol v1\n", "TCP  " + ppV2 + " rr proxy-protocol v2\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("gw adm -L -n lacks %q:\n%s", want, list)
		}
	}

	for i, svc := range []struct{ name, vip, port string }{{"v1", ppV1, "8081"}, {"v2", ppV2, "8082"}} {
		t.Run(svc.name+"_logged_client_address", func(t *testing.T) {
			cport := 45100 + i
			body := tp.curl(t, "--local-port", fmt.Sprint(cport), "http://"+svc.vip+"/")
			want := fmt.Sprintf("%s:%d", fnClient, cport)
			if f := strings.Fields(body); len(f) != 2 || f[1] != want {
				t.Errorf("answer %q; want the server to name the client %s", body, want)
			}
			line := fmt.Sprintf("%s %s GET / 200", svc.port, want)
			harness.Eventually(t, 5*time.Second, "the request in an access log", func() error {
				for _, rs := range []string{"rs1", "rs2"} {
					for _, l := range tp.accessLog(t, rs) {
						if l == line {
							return nil
						}
					}
				}
				return fmt.Errorf("no line %q in the access logs", line)
			})
		})

		t.Run(svc.name+"_200_concurrent", func(t *testing.T) {
			before := map[string]int{}
			for _, rs := range []string{"rs1", "rs2"} {
				before[rs] = len(tp.accessLog(t, rs))
			}
			var rep getReport
			tp.peerRun(t, tp.client, 120*time.Second, &rep, "get", "-url", "http://"+svc.vip+"/", "-n", "200", "-c", "50")
			if rep.OK != 200 || rep.Failed != 0 {
				t.Errorf("%d of 200 requests succeeded, %d failed: %v", rep.OK, rep.Failed, rep.Errors)
			}
			if len(rep.Peers) != 1 || rep.Peers[fnClient] != 200 {
				t.Errorf("the servers named the clients %v; want %s 200 times", rep.Peers, fnClient)
			}
			if rep.ByServer["rs1"] == 0 || rep.ByServer["rs2"] == 0 {
				t.Errorf("answers per server %v; want both (rr)", rep.ByServer)
			}
			lines := 0
			for _, rs := range []string{"rs1", "rs2"} {
				for _, l := range tp.accessLog(t, rs)[before[rs]:] {
					f := strings.Fields(l)
					if len(f) != 5 || f[0] != svc.port || !strings.HasPrefix(f[1], fnClient+":") || f[4] != "200" {
						t.Errorf("%s logged %q; want port %s, client %s:PORT, status 200", rs, l, svc.port, fnClient)
						continue
					}
					lines++
				}
			}
			// (A client port may come back: nginx closes first, so the
			// client keeps no TIME_WAIT.)
			if lines != 200 {
				t.Errorf("the access logs have %d lines for the 200 requests", lines)
			}
		})
	}

	t.Run("haproxy_v2", func(t *testing.T) {
		body := tp.curl(t, "--local-port", "45200", "http://"+ppHA+"/")
		if want := "haproxy " + fnClient + ":45200"; strings.TrimSpace(body) != want {
			t.Errorf("HAProxy answered %q, want %q", body, want)
		}
		var rep getReport
		tp.peerRun(t, tp.client, 120*time.Second, &rep, "get", "-url", "http://"+ppHA+"/", "-n", "200", "-c", "50")
		if rep.OK != 200 || rep.Failed != 0 || rep.Peers[fnClient] != 200 {
			t.Errorf("%d of 200 requests succeeded, %d failed (%v), clients named %v", rep.OK, rep.Failed, rep.Errors, rep.Peers)
		}
	})

	const size = 8 << 20
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	if err := os.WriteFile(filepath.Join(tp.dir, "www", "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tp.dir, "up.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("download_8MB_v1", func(t *testing.T) {
		dst := filepath.Join(tp.dir, "big.out")
		tp.curl(t, "-o", dst, "http://"+ppV1+"/files/big.bin")
		n, got, err := fileSHA256(dst)
		if err != nil || n != size || !bytes.Equal(got, want[:]) {
			t.Errorf("downloaded %d bytes with sha256 %x (%v); want %d bytes with sha256 %x", n, got, err, size, want)
		}
	})
	t.Run("upload_8MB_v2", func(t *testing.T) {
		tp.curl(t, "-f", "-T", filepath.Join(tp.dir, "up.bin"), "http://"+ppV2+"/up/up.bin")
		found := 0
		for _, rs := range []string{"rs1", "rs2"} {
			p := filepath.Join(tp.dir, rs+"-up", "up", "up.bin")
			if !fileExists(p) {
				continue
			}
			found++
			n, got, err := fileSHA256(p)
			if err != nil || n != size || !bytes.Equal(got, want[:]) {
				t.Errorf("%s stored %d bytes with sha256 %x (%v); want %d bytes with sha256 %x", rs, n, got, err, size, want)
			}
		}
		if found != 1 {
			t.Errorf("the upload is on %d real servers, want 1", found)
		}
	})

	// The real servers' Linux takes the TOA option (unknown to it without
	// the TOA module: ignored) and the lowered MSS: connections work.
	t.Run("toa_download_8MB", func(t *testing.T) {
		dst := filepath.Join(tp.dir, "toa.out")
		tp.curl(t, "-f", "-o", dst, "http://"+ppTOA+"/files/big.bin")
		n, got, err := fileSHA256(dst)
		if err != nil || n != size || !bytes.Equal(got, want[:]) {
			t.Errorf("downloaded %d bytes with sha256 %x (%v); want %d bytes with sha256 %x", n, got, err, size, want)
		}
		var cores []struct {
			TOAAdded uint64 `json:"toa_added"`
		}
		tp.g.MustJSON(&cores, "stats")
		var n2 uint64
		for _, c := range cores {
			n2 += c.TOAAdded
		}
		if n2 < 2 {
			t.Errorf("gw stats counts %d TOA options, want at least 2 (the SYN and the handshake's ACK)", n2)
		}
	})

	t.Run("server_speaks_first", func(t *testing.T) {
		out, err := tp.client.Command(tp.peer, "readbanner", "-addr", ppBanner).CombinedOutput()
		if err != nil {
			t.Fatalf("readbanner: %v: %s\ngateway:\n%s", err, out, tp.stats(t))
		}
		// "LOCALADDR banner CLIENT": the server names the client's own
		// address and port, from the header sent after the handshake.
		f := strings.Fields(string(out))
		if len(f) != 3 || f[1] != "banner" || f[2] != f[0] || !strings.HasPrefix(f[0], fnClient+":") {
			t.Errorf("banner exchange %q; want \"CLIENT banner CLIENT\" with the client's address", out)
		}
	})

	t.Run("udp_v2", func(t *testing.T) {
		var rep udpReport
		tp.peerRun(t, tp.client, 60*time.Second, &rep, "udp", "-addr", ppUDP, "-flows", "4", "-n", "25", "-size", "200")
		if rep.Sent != 100 || rep.Echoed != 100 || rep.Bad != 0 {
			t.Errorf("UDP echo: %d sent, %d echoed, %d wrong; want 100, 100, 0; errors %v", rep.Sent, rep.Echoed, rep.Bad, rep.Errors)
		}
		// The servers echo only what follows a valid header, so 100 echoes
		// are 100 headers read; each named the client.
		seen := 0
		for _, name := range []string{"udp1", "udp2"} {
			for ip := range tp.readPeers(t, name)["udp-proxy"] {
				if ip != fnClient {
					t.Errorf("%s read client %s from a PROXY header, want %s", name, ip, fnClient)
				}
				seen++
			}
		}
		if seen == 0 {
			t.Errorf("no server recorded a client from a PROXY header")
		}
	})

	t.Run("counters", func(t *testing.T) {
		var cores []struct {
			ProxyHeaders uint64 `json:"proxy_headers"`
			ProxyTrimmed uint64 `json:"proxy_trimmed"`
		}
		tp.g.MustJSON(&cores, "stats")
		var hdrs uint64
		for _, c := range cores {
			hdrs += c.ProxyHeaders
		}
		// At least one per connection (2 + 400 requests to nginx, 201 to
		// HAProxy, 2 transfers, 1 banner) and one per datagram (100).
		if hdrs < 706 {
			t.Errorf("gw stats counts %d PROXY headers, want at least 706", hdrs)
		}
		checkNoBadDrops(t, tp.cores(t))
	})
	return tp
}
