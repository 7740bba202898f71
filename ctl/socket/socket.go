// Package socket is the control-socket protocol between `gw` client commands and
// the running gateway: one request and one response per connection over a unix
// stream socket, each a 4-byte big-endian length followed by a JSON object.
//
// The request carries the command the client parsed (ctl.Command: the client
// parses the command line once, with ctl.ParseCommandLine, and reads what the
// command takes from standard input — ipvsadm -R — into it); the gateway runs
// it against its running state. Requests are versioned and size-limited; a
// malformed, oversized or other-version request gets a coded error and never
// affects the daemon. The socket is created mode 0600: only root (the owner)
// may talk to the gateway.
package socket

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"fngw/ctl"
)

// Version is the protocol version; a request with another version is refused.
// Version 1 carried the command line for the daemon to parse; 2 carries the
// parsed command.
const Version = 2

// Limits.
const (
	MaxRequest  = 4 << 20  // bytes of one encoded request
	MaxResponse = 64 << 20 // bytes of one encoded response
	MaxClients  = 128      // connections served at once; more wait in the backlog
	IOTimeout   = 10 * time.Second
)

// Request is one command.
type Request struct {
	V   int         `json:"v"`
	Cmd ctl.Command `json:"cmd"`
}

// Error codes of a Response.
const (
	CodeOK        = ""
	CodeUsage     = "usage"     // the command line is wrong
	CodeInvalid   = "invalid"   // a value is wrong (bad address, unknown scheduler...)
	CodeNotFound  = "notfound"  // the destination, route... does not exist
	CodeNoService = "noservice" // the service the command names does not exist
	CodeExists    = "exists"    // it exists already
	CodeFull      = "full"      // no room for it (a limit of the gateway)
	CodeProtocol  = "protocol"  // malformed, oversized or wrong-version request
	CodeInternal  = "internal"  // the gateway failed to apply it
)

// Response is the result of one command: what the command prints, and an error
// code and message when it failed (the client exits non-zero then).
type Response struct {
	V      int    `json:"v"`
	Code   string `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
	Stdout string `json:"stdout,omitempty"`
}

// Handler runs one request. Calls may be concurrent; the handler serializes what
// must be.
type Handler func(Request) Response

func writeMsg(w io.Writer, v any, limit int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > limit {
		return fmt.Errorf("message of %d bytes exceeds the limit of %d", len(b), limit)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func readMsg(r io.Reader, v any, limit int) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(limit) {
		return fmt.Errorf("message of %d bytes exceeds the limit of %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Server serves a control socket.
type Server struct {
	ln   net.Listener
	path string
	h    Handler
	wg   sync.WaitGroup
	sem  chan struct{}
}

// Listen creates the socket at path and serves it with h until Close. The
// socket is mode 0600 from its creation (the umask is narrowed around it);
// its directory is created 0700 if missing, and an existing one writable by
// group or others is refused, since anyone who can write there could
// replace the socket. A stale socket left by a dead gateway is replaced, a
// live one is an error.
func Listen(path string, h Handler) (*Server, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("control socket directory %s is writable by group or others (mode %#o): make it writable by root only (chmod go-w %s) or use another [ctl] socket",
			dir, st.Mode().Perm(), dir)
	}
	if err := CheckFree(path); err != nil {
		return nil, err
	}
	os.Remove(path)
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	s := &Server{ln: ln, path: path, h: h, sem: make(chan struct{}, MaxClients)}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// CheckFree reports an error when a running gateway answers on the socket
// at path (a stale socket file, left by a gateway that died, is free).
func CheckFree(path string) error {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s is in use by a running gateway (stop it, or use another [ctl] socket)", path)
	}
	return nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.sem <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.serve(c)
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(IOTimeout))
	var req Request
	resp := Response{V: Version}
	if err := readMsg(c, &req, MaxRequest); err != nil {
		resp.Code, resp.Error = CodeProtocol, "bad request: "+err.Error()
	} else if req.V != Version {
		resp.Code, resp.Error = CodeProtocol, fmt.Sprintf("protocol version %d not supported (this gateway speaks %d): use the gw client of the running gateway's version", req.V, Version)
	} else {
		resp = s.h(req)
		resp.V = Version
	}
	c.SetDeadline(time.Now().Add(IOTimeout))
	if err := writeMsg(c, resp, MaxResponse); err != nil {
		writeMsg(c, Response{V: Version, Code: CodeInternal, Error: err.Error()}, MaxResponse)
	}
}

// Close stops accepting, waits for the connections being served, and removes the
// socket file.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	os.Remove(s.path)
	return err
}

// Do sends one request to the gateway at path and returns its response.
func Do(path string, req Request) (Response, error) { return DoWithin(path, req, 2*IOTimeout) }

// DoWithin is Do with the whole exchange bounded by timeout: a gateway
// that does not answer within it is an error (a watchdog's verdict).
func DoWithin(path string, req Request, timeout time.Duration) (Response, error) {
	req.V = Version
	c, err := net.DialTimeout("unix", path, min(2*time.Second, timeout))
	if err != nil {
		return Response{}, fmt.Errorf("cannot reach the gateway at %s: %w (is `gw run` up? set --sock or FNGW_SOCK)", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if err := writeMsg(c, req, MaxRequest); err != nil {
		return Response{}, err
	}
	var resp Response
	if err := readMsg(c, &resp, MaxResponse); err != nil {
		return Response{}, fmt.Errorf("reading the gateway's answer: %w", err)
	}
	return resp, nil
}
