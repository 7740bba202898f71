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
)

func echo(r Request) Response {
	if len(r.Args) > 0 && r.Args[0] == "fail" {
		return Response{Code: CodeInvalid, Error: "bad value " + strings.Join(r.Args[1:], " ")}
	}
	return Response{Stdout: strings.Join(r.Args, " ") + "|" + string(r.Stdin)}
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
	r, err := Do(p, Request{Args: []string{"ip", "addr", "show"}, Stdin: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != "ip addr show|x" || r.Code != "" || r.V != Version {
		t.Fatalf("got %+v", r)
	}
	r, err = Do(p, Request{Args: []string{"fail", "42"}})
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
	body := []byte(`{"v":7,"args":["x"]}`)
	if r := rawSend(t, p, uint32(len(body)), body); r.Code != CodeProtocol || !strings.Contains(r.Error, "version 7") {
		t.Fatalf("version: %+v", r)
	}
	if r, err := Do(p, Request{Args: []string{"still", "alive"}}); err != nil || r.Stdout != "still alive|" {
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
			arg := strings.Repeat("a", i)
			r, err := Do(p, Request{Args: []string{arg}})
			if err != nil || r.Stdout != arg+"|" {
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
