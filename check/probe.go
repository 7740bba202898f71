package check

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"sync"
	"syscall"
	"time"

	"fngw/ctl"
)

// Target is one destination's check: where it goes and how.
type Target struct {
	// Addr is the address and port checked: the destination's address,
	// and the check's port or else the destination's.
	Addr  netip.AddrPort
	Check ctl.Check
}

// TargetOf is the target of destination d under check c.
func TargetOf(d ctl.Dest, c ctl.Check) Target {
	port := d.Port
	if c.Port != 0 {
		port = c.Port
	}
	return Target{Addr: netip.AddrPortFrom(d.Addr, port), Check: c}
}

// Result is the outcome of one check.
type Result struct {
	OK bool
	// Reason says why, for a person: "ok", "connect refused", "status
	// 503", "timeout after 1s".
	Reason  string
	Latency time.Duration
	At      time.Time // when the check started
}

// maxBody is the most of an HTTP body a check reads (for its regex and
// digest); keepalived reads the whole page, these are health pages.
const maxBody = 1 << 20

// Prober runs checks. It keeps one HTTP transport per source address and
// scheme (without keep-alive: every check is a new connection, as
// keepalived's). Safe for concurrent use.
type Prober struct {
	mu         sync.Mutex
	transports map[transportKey]*http.Transport
	regexps    map[string]*regexp.Regexp
}

type transportKey struct {
	source netip.Addr
	tls    bool
}

// NewProber returns a Prober.
func NewProber() *Prober {
	return &Prober{transports: make(map[transportKey]*http.Transport), regexps: make(map[string]*regexp.Regexp)}
}

// Probe runs t's check once, within its timeout (or ctx's end).
func (p *Prober) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	timeout := time.Duration(t.Check.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	switch t.Check.Type {
	case ctl.CheckTCP:
		err = p.tcp(ctx, t)
	case ctl.CheckHTTP, ctl.CheckHTTPS:
		err = p.http(ctx, t)
	case ctl.CheckUDP:
		err = udp(ctx, t)
	case ctl.CheckDNS:
		err = dns(ctx, t)
	case ctl.CheckMisc:
		err = misc(ctx, t.Check.Command, nil)
	default:
		err = fmt.Errorf("no check of type %q", t.Check.Type)
	}
	r := Result{OK: err == nil, Reason: "ok", Latency: time.Since(start), At: start}
	if err != nil {
		r.Reason = reason(err, ctx, timeout)
	}
	return r
}

// failure is a check's own verdict ("status 503"), shown as it is.
type failure string

func (f failure) Error() string { return string(f) }

func failf(format string, a ...any) error { return failure(fmt.Sprintf(format, a...)) }

// reason words err for a person.
func reason(err error, ctx context.Context, timeout time.Duration) string {
	var f failure
	switch {
	case errors.As(err, &f):
		return string(f)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return "timeout after " + timeout.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "source address not available"
	}
	return err.Error()
}

// dialer is a dialer from source (the zero Addr: the kernel's choice).
func dialer(source netip.Addr) *net.Dialer {
	d := &net.Dialer{}
	if source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: source.AsSlice()}
	}
	return d
}

// tcp: TCP_CHECK, a connection is accepted (and closed at once).
func (p *Prober) tcp(ctx context.Context, t Target) error {
	c, err := dialer(t.Check.Source).DialContext(ctx, "tcp4", t.Addr.String())
	if err != nil {
		return err
	}
	return c.Close()
}

func (p *Prober) transport(source netip.Addr, useTLS bool) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := transportKey{source, useTLS}
	tr := p.transports[k]
	if tr == nil {
		d := dialer(source)
		tr = &http.Transport{
			DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp4", addr) },
			DisableKeepAlives: true,
			// SSL_GET does not verify the real server's certificate: it
			// checks the service, often behind a self-signed one.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			Proxy:           nil,
		}
		p.transports[k] = tr
	}
	return tr
}

func (p *Prober) regexp(expr string) *regexp.Regexp {
	p.mu.Lock()
	defer p.mu.Unlock()
	re := p.regexps[expr]
	if re == nil {
		re = regexp.MustCompile(expr) // validated with the configuration
		p.regexps[expr] = re
	}
	return re
}

// http: HTTP_GET and SSL_GET, a GET of the path answered with an expected
// status, a body matching the regex and of the digest, where set.
func (p *Prober) http(ctx context.Context, t Target) error {
	c := t.Check
	scheme := "http"
	if c.Type == ctl.CheckHTTPS {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+t.Addr.String()+c.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "fngw-check")
	resp, err := p.transport(c.Source, c.Type == ctl.CheckHTTPS).RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !c.ExpectStatus.Match(resp.StatusCode) {
		return failf("status %d", resp.StatusCode)
	}
	if c.ExpectBodyRegex == "" && c.Digest == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return err
	}
	if c.ExpectBodyRegex != "" && !p.regexp(c.ExpectBodyRegex).Match(body) {
		return failf("body does not match %q", c.ExpectBodyRegex)
	}
	if c.Digest != "" {
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); got != c.Digest {
			return failf("digest %s, want %s", got, c.Digest)
		}
	}
	return nil
}
