package socket

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fngw/ctl"
)

func echo(r Request) Response {
	if r.Cmd.Op == "fail" {
		return Response{Code: CodeInvalid, Error: "bad value " + r.Cmd.Dev}
	}
	return Response{Stdout: r.Cmd.String()}
}

func start(t *testing.T) (*Server, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gw.sock")
	s, err := Listen(p, echo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

func TestRoundTripAndMode(t *testing.T) {
	_, p := start(t)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", st.Mode().Perm())
	}
	r, err := Do(p, Request{Cmd: ctl.Command{Op: ctl.OpLinkShow, Dev: "dpdk0"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != "link show dpdk0" || r.Code != "" || r.V != Version {
		t.Fatalf("got %+v", r)
	}
	r, err = Do(p, Request{Cmd: ctl.Command{Op: "fail", Dev: "42"}})
	if err != nil || r.Code != CodeInvalid || r.Error != "bad value 42" {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func rawSend(t *testing.T, p string, hdr uint32, body []byte) Response {
	t.Helper()
	c, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], hdr)
	c.Write(h[:])
	c.Write(body)
	var r Response
	if err := readMsg(c, &r, MaxResponse); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMalformedOversizedAndVersion(t *testing.T) {
	_, p := start(t)
	if r := rawSend(t, p, 5, []byte("{nope")); r.Code != CodeProtocol {
		t.Fatalf("malformed JSON: %+v", r)
	}
	if r := rawSend(t, p, MaxRequest+1, nil); r.Code != CodeProtocol || !strings.Contains(r.Error, "exceeds the limit") {
		t.Fatalf("oversized: %+v", r)
	}
	body := []byte(`{"v":7,"cmd":{"op":"stats"}}`)
	if r := rawSend(t, p, uint32(len(body)), body); r.Code != CodeProtocol || !strings.Contains(r.Error, "version 7") {
		t.Fatalf("version: %+v", r)
	}
	// A client of the first protocol (the command line, for the daemon to
	// parse) is told to use a client of the gateway's version.
	body = []byte(`{"v":1,"args":["adm","-L","-n"]}`)
	if r := rawSend(t, p, uint32(len(body)), body); r.Code != CodeProtocol || !strings.Contains(r.Error, "version 1 not supported") {
		t.Fatalf("version 1: %+v", r)
	}
	if r, err := Do(p, Request{Cmd: ctl.Command{Op: ctl.OpStats}}); err != nil || r.Stdout != "stats" {
		t.Fatalf("server hurt by bad requests: %+v %v", r, err)
	}
}

func TestManyClientsAndSilentOne(t *testing.T) {
	_, p := start(t)
	silent, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			dev := strings.Repeat("a", i+1)
			r, err := Do(p, Request{Cmd: ctl.Command{Op: ctl.OpLinkShow, Dev: dev}})
			if err != nil || r.Stdout != "link show "+dev {
				errs <- err.Error()
			}
		}(i)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(IOTimeout / 2):
		t.Fatal("100 clients were not served while one client stayed silent")
	}
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestLiveSocketRefused(t *testing.T) {
	_, p := start(t)
	if _, err := Listen(p, echo); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
}

func FuzzReadMsg(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		readMsg(strings.NewReader(string(b)), &r, 1<<16)
	})
}

// TestDirectoryWritableByOthersRefused: a socket directory others may write
// to is refused (they could replace the socket), naming it; one the gateway
// creates is 0700.
func TestDirectoryWritableByOthersRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // past the umask
	if _, err := Listen(filepath.Join(dir, "gw.sock"), echo); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("Listen in a 0777 directory: %v", err)
	}
	made := filepath.Join(t.TempDir(), "made", "gw.sock")
	s, err := Listen(made, echo)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := os.Stat(filepath.Dir(made)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("directory made with mode %v, %v", st.Mode().Perm(), err)
	}
}
