// Command e2epeer is the real-server and client program of the end-to-end
// tests (and of scripts/demo.sh). It runs inside a network namespace (ip netns
// exec) on the real Linux stack; the tests build it with go build. It is test
// code: no part of the gateway uses it.
//
//	e2epeer serve -name NAME -http ADDR [-udp ADDR] [-dir DIR] [-peers FILE] [-ready FILE]
//	    An HTTP server: GET / answers "NAME PEER\n" (PEER is the client address
//	    it saw), GET /files/... serves DIR. With -udp, a UDP echo server. Every
//	    peer IP seen (per protocol) is recorded in FILE as JSON, rewritten when
//	    a new one appears; FILE.tmp is renamed over it. -ready FILE is created
//	    once every socket listens. With -udp-proxy, every datagram must start
//	    with a PROXY protocol v2 header (DGRAM, IPv4): the client it names is
//	    recorded (as proto "udp-proxy") and only the rest is echoed; a
//	    datagram without one is not answered.
//	e2epeer get -url URL [-n N] [-c C] [-timeout D]
//	    N GET requests, C at a time, each on a new TCP connection; prints a JSON
//	    report: requests that succeeded and failed, answers per server name, peers.
//	e2epeer fetch -url URL -o FILE [-rate BYTES]
//	    One GET, body written to FILE as it arrives; prints {"bytes":N,"seconds":S}.
//	    -rate reads at most BYTES per second (as curl --limit-rate): the
//	    receive window fills and TCP slows the sender, so a transfer lasts long
//	    enough to reconfigure the gateway while it runs.
//	e2epeer udp -addr ADDR [-flows F] [-n N] [-size S]
//	    F UDP sockets each send N datagrams of S bytes and await each echo (1 s);
//	    prints {"sent":N,"echoed":M,"bad":B}.
//	e2epeer hold -addr ADDR -mode idle|finwait|rst [-for D]
//	    One HTTP request on a raw TCP connection, then: idle keeps the
//	    connection open and silent; finwait sends "Connection: close", reads to
//	    the server's FIN and keeps its own side open (the gateway sees FIN_WAIT);
//	    rst closes with a reset (SO_LINGER 0). Prints "ready LOCALADDR" when the last
//	    packet has gone, then waits D before exiting.
//	e2epeer probe -url URL [-every D] [-for D] [-timeout D] [-keepalive]
//	    One GET every D (50ms) for D (30s), each on a new TCP connection, each
//	    started on its tick whatever the earlier ones are doing; with
//	    -keepalive, one after the other on one connection that is never
//	    re-dialled (once it breaks, every later request fails). Prints
//	    {"probes":[{"at_ms":T,"ok":B,"server":NAME,"err":E},...]}, T since the
//	    start, in the order sent.
//	e2epeer banner -addr ADDR [-ready FILE]
//	    A server that speaks first, behind a PROXY protocol gateway: on each
//	    connection it reads the PROXY header (v1 or v2) and nothing else,
//	    writes "banner CLIENT\r\n" (CLIENT the address the header names) and
//	    closes. A connection without a valid header gets "no-proxy-header".
//	e2epeer readbanner -addr ADDR
//	    Connects, sends nothing, prints the first line the server sends.
//
// TCP keepalives are off everywhere, so an idle connection is really silent.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2epeer serve|get|fetch|udp|hold|probe|banner|readbanner ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	case "fetch":
		err = fetch(os.Args[2:])
	case "udp":
		err = udp(os.Args[2:])
	case "hold":
		err = hold(os.Args[2:])
	case "probe":
		err = probe(os.Args[2:])
	case "banner":
		err = banner(os.Args[2:])
	case "readbanner":
		err = readBanner(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q; want serve, get, fetch, udp, hold, probe, banner or readbanner", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2epeer:", err)
		os.Exit(1)
	}
}

// peers records the peer IPs a server saw, per protocol.
type peers struct {
	mu   sync.Mutex
	file string
	seen map[string]map[string]int // proto -> IP -> count
}

func (p *peers) add(proto, addr string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.seen[proto]
	if m == nil {
		m = map[string]int{}
		p.seen[proto] = m
	}
	m[host]++
	if p.file == "" {
		return
	}
	// Rewritten on every connection: the test reads it at any time and must
	// see complete JSON with current counts.
	b, _ := json.Marshal(p.seen)
	tmp := p.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		os.Rename(tmp, p.file)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	name := fs.String("name", "", "server name in answers")
	httpAddr := fs.String("http", "", "HTTP listen address")
	udpAddr := fs.String("udp", "", "UDP echo listen address")
	dir := fs.String("dir", "", "directory served under /files/")
	peerFile := fs.String("peers", "", "file recording the peers seen")
	ready := fs.String("ready", "", "file created once listening")
	udpProxy := fs.Bool("udp-proxy", false, "datagrams start with a PROXY protocol v2 header")
	fs.Parse(args)
	if *name == "" || *httpAddr == "" {
		return errors.New("serve needs -name and -http")
	}
	p := &peers{file: *peerFile, seen: map[string]map[string]int{}}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp4", *httpAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", *name, r.RemoteAddr)
	})
	if *dir != "" {
		mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(*dir))))
	}
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.add("tcp", c.RemoteAddr().String())
		}
	}}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if *udpAddr != "" {
		pc, err := net.ListenPacket("udp4", *udpAddr)
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					errc <- err
					return
				}
				if !*udpProxy {
					p.add("udp", from.String())
					pc.WriteTo(buf[:n], from)
					continue
				}
				client, rest, err := readProxyV2Dgram(buf[:n])
				if err != nil {
					fmt.Fprintf(os.Stderr, "datagram from %s: %v\n", from, err)
					continue
				}
				p.add("udp-proxy", client)
				pc.WriteTo(rest, from)
			}
		}()
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
			return err
		}
	}
	return <-errc
}

// getReport is what get prints.
type getReport struct {
	OK       int            `json:"ok"`
	Failed   int            `json:"failed"`
	Errors   []string       `json:"errors,omitempty"` // the first few
	ByServer map[string]int `json:"by_server"`
	Peers    map[string]int `json:"peers"` // the client addresses the servers reported
	Seconds  float64        `json:"seconds"`
}

func newClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: d.DialContext, DisableKeepAlives: true, Proxy: nil}}
}

func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	url := fs.String("url", "", "URL")
	n := fs.Int("n", 1, "requests")
	c := fs.Int("c", 1, "concurrency")
	timeout := fs.Duration("timeout", 5*time.Second, "per request")
	fs.Parse(args)
	client := newClient(*timeout)
	rep := getReport{ByServer: map[string]int{}, Peers: map[string]int{}}
	var mu sync.Mutex
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(*c, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				body, err := func() (string, error) {
					resp, err := client.Get(*url)
					if err != nil {
						return "", err
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					if err != nil {
						return "", err
					}
					if resp.StatusCode != http.StatusOK {
						return "", fmt.Errorf("status %s", resp.Status)
					}
					return string(b), nil
				}()
				f := strings.Fields(body)
				mu.Lock()
				switch {
				case err != nil:
					rep.Failed++
					if len(rep.Errors) < 10 {
						rep.Errors = append(rep.Errors, err.Error())
					}
				case len(f) != 2:
					rep.Failed++
					if len(rep.Errors) < 10 {
						rep.Errors = append(rep.Errors, fmt.Sprintf("unexpected answer %q", body))
					}
				default:
					rep.OK++
					rep.ByServer[f[0]]++
					host, _, _ := net.SplitHostPort(f[1])
					rep.Peers[host]++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range *n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func fetch(args []string) error {
	fs := flag.NewFlagSet("fetch", flag.ExitOnError)
	url := fs.String("url", "", "URL")
	out := fs.String("o", "", "output file")
	timeout := fs.Duration("timeout", 120*time.Second, "whole transfer")
	rate := fs.Int64("rate", 0, "read at most this many bytes per second (0: as fast as possible)")
	fs.Parse(args)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	resp, err := newClient(*timeout).Get(*url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", *url, resp.Status)
	}
	var body io.Reader = resp.Body
	if *rate > 0 {
		body = &slowReader{r: resp.Body, rate: *rate, start: time.Now()}
	}
	n, err := io.Copy(f, body)
	if err != nil {
		return fmt.Errorf("after %d bytes: %w", n, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"bytes": n, "seconds": time.Since(start).Seconds()})
}

// slowReader reads at most rate bytes per second on average since start, in
// reads of at most 16 KiB.
type slowReader struct {
	r     io.Reader
	rate  int64
	start time.Time
	n     int64
}

func (s *slowReader) Read(p []byte) (int, error) {
	// Wait until the bytes read so far are due.
	due := s.start.Add(time.Duration(float64(s.n) / float64(s.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	k, err := s.r.Read(p)
	s.n += int64(k)
	return k, err
}

func udp(args []string) error {
	fs := flag.NewFlagSet("udp", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	flows := fs.Int("flows", 1, "sockets (flows)")
	n := fs.Int("n", 10, "datagrams per flow")
	size := fs.Int("size", 64, "datagram size")
	fs.Parse(args)
	var mu sync.Mutex
	sent, echoed, bad := 0, 0, 0
	var errs []string
	var wg sync.WaitGroup
	for fl := range *flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp4", *addr)
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			defer conn.Close()
			buf := make([]byte, 65536)
			for i := range *n {
				msg := []byte(fmt.Sprintf("flow %d datagram %d ", fl, i))
				for len(msg) < *size {
					msg = append(msg, byte('a'+len(msg)%26))
				}
				mu.Lock()
				sent++
				mu.Unlock()
				if _, err := conn.Write(msg); err != nil {
					continue
				}
				conn.SetReadDeadline(time.Now().Add(time.Second))
				k, err := conn.Read(buf)
				mu.Lock()
				switch {
				case err != nil:
					if len(errs) < 10 {
						errs = append(errs, err.Error())
					}
				case string(buf[:k]) == string(msg):
					echoed++
				default:
					bad++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"sent": sent, "echoed": echoed, "bad": bad, "errors": errs})
}

func hold(args []string) error {
	fs := flag.NewFlagSet("hold", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	mode := fs.String("mode", "idle", "idle, finwait or rst")
	d := fs.Duration("for", time.Minute, "how long to hold after ready")
	fs.Parse(args)
	dl := net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}
	c, err := dl.Dial("tcp4", *addr)
	if err != nil {
		return err
	}
	tc := c.(*net.TCPConn)
	conn := "keep-alive"
	if *mode == "finwait" {
		conn = "close"
	}
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: e2e\r\nConnection: %s\r\n\r\n", conn); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	resp.Body.Close()
	switch *mode {
	case "idle":
	case "finwait":
		// The server closes after answering: wait for its FIN (EOF).
		if _, err := br.ReadByte(); err != io.EOF {
			return fmt.Errorf("want EOF after the response, got %v", err)
		}
	case "rst":
		tc.SetLinger(0)
		tc.Close()
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	// Let the kernel send the ACK of the last segment before saying ready.
	time.Sleep(100 * time.Millisecond)
	fmt.Println("ready", c.LocalAddr())
	time.Sleep(*d)
	return nil
}

// probeResult is one request of probe.
type probeResult struct {
	AtMs   int64  `json:"at_ms"`
	OK     bool   `json:"ok"`
	Server string `json:"server,omitempty"`
	Err    string `json:"err,omitempty"`
}

func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	url := fs.String("url", "", "URL")
	every := fs.Duration("every", 50*time.Millisecond, "interval between requests")
	total := fs.Duration("for", 30*time.Second, "how long to probe")
	timeout := fs.Duration("timeout", 500*time.Millisecond, "per request")
	keep := fs.Bool("keepalive", false, "all requests on one connection, never re-dialled")
	fs.Parse(args)
	client := newClient(*timeout)
	if *keep {
		var dialed bool
		d := &net.Dialer{Timeout: *timeout, KeepAlive: -1}
		client = &http.Client{Timeout: *timeout, Transport: &http.Transport{Proxy: nil, MaxConnsPerHost: 1,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dialed {
					return nil, errors.New("the connection broke (not re-dialled)")
				}
				dialed = true
				return d.DialContext(ctx, network, addr)
			}}}
	}
	one := func(at time.Duration) probeResult {
		r := probeResult{AtMs: at.Milliseconds()}
		resp, err := client.Get(*url)
		if err == nil {
			var b []byte
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if f := strings.Fields(string(b)); err == nil && resp.StatusCode == http.StatusOK && len(f) == 2 {
				r.OK, r.Server = true, f[0]
				return r
			}
			if err == nil {
				err = fmt.Errorf("unexpected answer %s %q", resp.Status, b)
			}
		}
		r.Err = err.Error()
		return r
	}
	start := time.Now()
	n := int(*total / *every)
	res := make([]probeResult, n)
	var wg sync.WaitGroup
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * *every)); d > 0 {
			time.Sleep(d)
		}
		if *keep {
			res[i] = one(time.Since(start))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = one(time.Since(start))
		}()
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"probes": res})
}

func banner(args []string) error {
	fs := flag.NewFlagSet("banner", flag.ExitOnError)
	addr := fs.String("addr", "", "listen address")
	ready := fs.String("ready", "", "file created once listening")
	fs.Parse(args)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			return err
		}
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			client, err := readProxyHeader(bufio.NewReader(c))
			if err != nil {
				fmt.Fprintf(c, "no-proxy-header %v\r\n", err)
				return
			}
			fmt.Fprintf(c, "banner %s\r\n", client)
		}()
	}
}

// readProxyHeader reads a PROXY protocol header, v1 or v2 (HAProxy's
// specification; IPv4 only), and returns the source address it names.
func readProxyHeader(r *bufio.Reader) (string, error) {
	sig := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b, err := r.Peek(len(sig))
	if err != nil {
		return "", err
	}
	if string(b) == string(sig) {
		h := make([]byte, 16)
		if _, err := io.ReadFull(r, h); err != nil {
			return "", err
		}
		if h[12] != 0x21 || h[13] != 0x11 || h[14] != 0 || h[15] != 12 {
			return "", fmt.Errorf("v2 header % x: want PROXY, TCP over IPv4, 12 address bytes", h[12:])
		}
		a := make([]byte, 12)
		if _, err := io.ReadFull(r, a); err != nil {
			return "", err
		}
		return net.JoinHostPort(net.IP(a[0:4]).String(), fmt.Sprint(int(a[8])<<8|int(a[9]))), nil
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	f := strings.Fields(strings.TrimSuffix(line, "\r\n"))
	if len(f) != 6 || f[0] != "PROXY" || f[1] != "TCP4" {
		return "", fmt.Errorf("v1 line %q", line)
	}
	return net.JoinHostPort(f[2], f[4]), nil
}

func readBanner(args []string) error {
	fs := flag.NewFlagSet("readbanner", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	fs.Parse(args)
	c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the banner: %v (got %q)", err, line)
	}
	fmt.Printf("%s %s", c.LocalAddr(), line)
	return nil
}

// readProxyV2Dgram splits a datagram into the PROXY protocol v2 header it
// must start with (PROXY, AF_INET, DGRAM) and the payload; it returns the
// client address the header names.
func readProxyV2Dgram(b []byte) (string, []byte, error) {
	const sig = "\r\n\r\n\x00\r\nQUIT\n"
	if len(b) < 28 || string(b[:12]) != sig {
		return "", nil, fmt.Errorf("no PROXY v2 header in % x", b[:min(len(b), 28)])
	}
	if b[12] != 0x21 || b[13] != 0x12 || b[14] != 0 || b[15] != 12 {
		return "", nil, fmt.Errorf("v2 header % x: want PROXY, UDP over IPv4, 12 address bytes", b[12:16])
	}
	return net.JoinHostPort(net.IP(b[16:20]).String(), fmt.Sprint(int(b[24])<<8|int(b[25]))), b[28:], nil
}
