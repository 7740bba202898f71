package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFirewallMarkNAT: a firewall-mark service on the NAT topology of
// modes_test.go. Two mark rules give mark 1 to TCP to 198.18.5.0/24 port
// 8080 and UDP to the same /24 port 5353 (addresses the client reaches
// through its default route, the gateway); the fwmark service -f 1, rr,
// -p 60, has the masq real server without a port. Uploads to two addresses
// of the /24 reach the real server on port 8080, from the client's own
// address, byte-identical; a UDP socket connected to a third address gets
// its echoes from that address and port (the reply translated back); -L
// lists "FWM  1 rr persistent 60"; -L -c lists the client's one template as
// LVS does (protocol IP, the mark as the address); nothing is dropped.
func TestFirewallMarkNAT(t *testing.T) {
	tp := mdStart(t, "nat", mdOpts{})
	for _, c := range [][]string{
		{"mark", "add", "1", "proto", "tcp", "dst", "198.18.5.0/24", "dport", "8080"},
		{"mark", "add", "1", "proto", "udp", "dst", "198.18.5.0/24", "dport", "5353"},
		{"adm", "-A", "-f", "1", "-s", "rr", "-p", "60"},
		{"adm", "-a", "-f", "1", "-r", mdRS, "-m"},
	} {
		tp.g.MustCmd(c...)
	}
	for _, addr := range []string{"198.18.5.7:8080", "198.18.5.200:8080"} {
		data := make([]byte, 256<<10)
		rand.Read(data)
		c, err := mdDial(tp.client, "tcp4", addr)
		if err != nil {
			t.Fatalf("connect to %s: %v; gateway stats:\n%s", addr, err, tp.stats())
		}
		c.SetDeadline(time.Now().Add(mdIOWait))
		var hdr [17]byte
		hdr[0] = 'U'
		binary.BigEndian.PutUint64(hdr[1:], uint64(len(data)))
		c.Write(hdr[:])
		c.Write(data)
		c.(interface{ CloseWrite() error }).CloseWrite()
		reply, err := io.ReadAll(c)
		c.Close()
		sum := sha256.Sum256(data)
		if err != nil || len(reply) < 32 || !bytes.Equal(reply[:32], sum[:]) {
			t.Fatalf("upload to %s: %d bytes back, %v; want the data's SHA-256", addr, len(reply), err)
		}
		if peer := string(reply[32:]); !strings.HasPrefix(peer, mdClient+":") {
			t.Errorf("upload to %s: the server saw %q, want the client %s", addr, peer, mdClient)
		}
	}
	u, err := mdDial(tp.client, "udp4", "198.18.5.9:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	for i := range 5 {
		msg := []byte{'m', byte(i)}
		u.Write(msg)
		// A connected UDP socket takes only datagrams from 198.18.5.9:5353.
		if n, err := u.Read(buf); err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("UDP echo %d from 198.18.5.9:5353: %q, %v", i, buf[:n], err)
		}
	}
	out, err := tp.g.Cmd("adm", "-L", "-n")
	if err != nil || !strings.Contains(out, "FWM  1 rr persistent 60\n  -> "+mdRS+":0") {
		t.Errorf("-L -n: %v\n%s", err, out)
	}
	out, _ = tp.g.Cmd("adm", "-L", "-n", "-c")
	tmpl := regexp.MustCompile(`(?m)^IP\s+\d\d:\d\d\s+NONE\s+` + regexp.QuoteMeta(mdClient) + `:0\s+0\.0\.0\.1:0\s+` + regexp.QuoteMeta(mdRS) + `:0\s*$`)
	if n := len(tmpl.FindAllString(out, -1)); n != 1 {
		t.Errorf("-L -n -c lists %d templates IP %s:0 0.0.0.1:0 %s:0, want 1:\n%s", n, mdClient, mdRS, out)
	}
	tp.checkDrops(t)
}
