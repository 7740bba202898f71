package check

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/net/dns/dnsmessage"
)

// udpConn is a UDP socket connected to t's address from its source, with
// ctx's deadline. Connected, it receives the ICMP errors of what it sends:
// a port unreachable comes back as ECONNREFUSED on the next read.
func udpConn(ctx context.Context, t Target) (*net.UDPConn, error) {
	var local *net.UDPAddr
	if s := t.Check.Source; s.IsValid() {
		local = &net.UDPAddr{IP: s.AsSlice()}
	}
	c, err := net.DialUDP("udp4", local, net.UDPAddrFromAddrPort(t.Addr))
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	return c, nil
}

// udp: UDP_CHECK. The payload is sent; an ICMP error (port unreachable)
// is a failure; with expect, a reply beginning with it must come within
// the timeout; without, any reply, or none and no ICMP error until the
// timeout, is a success (keepalived's UDP_CHECK without require_reply).
func udp(ctx context.Context, t Target) error {
	payload, _ := hex.DecodeString(t.Check.Payload) // validated with the configuration
	expect, _ := hex.DecodeString(t.Check.Expect)
	c, err := udpConn(ctx, t)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && len(expect) == 0:
		return nil // no ICMP error within the timeout
	case errors.Is(err, os.ErrDeadlineExceeded):
		return failf("no reply within %s", t.Check.Timeout)
	case err != nil:
		if errors.Is(err, syscall.ECONNREFUSED) {
			return failure("port unreachable")
		}
		return err
	}
	if !bytes.HasPrefix(buf[:n], expect) {
		return failf("reply %x does not begin with %x", buf[:min(n, 16)], expect)
	}
	return nil
}

var dnsTypes = map[string]dnsmessage.Type{"A": dnsmessage.TypeA, "NS": dnsmessage.TypeNS, "CNAME": dnsmessage.TypeCNAME,
	"SOA": dnsmessage.TypeSOA, "MX": dnsmessage.TypeMX, "TXT": dnsmessage.TypeTXT, "AAAA": dnsmessage.TypeAAAA}

// dnsQuery builds a query for name and type qtype with id.
func dnsQuery(id uint16, name, qtype string) ([]byte, dnsmessage.Question, error) {
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, dnsmessage.Question{}, err
	}
	q := dnsmessage.Question{Name: n, Type: dnsTypes[qtype], Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, q, err
	}
	if err := b.Question(q); err != nil {
		return nil, q, err
	}
	msg, err := b.Finish()
	return msg, q, err
}

// dnsAnswered checks a reply to query id asking q: a response with the
// query's ID and question, and no error (keepalived's DNS_CHECK).
func dnsAnswered(reply []byte, id uint16, q dnsmessage.Question) error {
	var p dnsmessage.Parser
	h, err := p.Start(reply)
	if err != nil {
		return failf("malformed reply: %v", err)
	}
	if !h.Response || h.ID != id {
		return failure("reply is not the answer to the query")
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return failf("rcode %s", strings.TrimPrefix(h.RCode.String(), "RCode"))
	}
	got, err := p.Question()
	if err != nil || got.Type != q.Type || !strings.EqualFold(got.Name.String(), q.Name.String()) {
		return failure("reply answers another question")
	}
	return nil
}

// dns: DNS_CHECK, a query of name and qtype over UDP answered without
// error.
func dns(ctx context.Context, t Target) error {
	id := uint16(rand.Uint32())
	msg, q, err := dnsQuery(id, t.Check.Name, t.Check.QType)
	if err != nil {
		return err
	}
	c, err := udpConn(ctx, t)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return failure("port unreachable")
			}
			return err
		}
		if err := dnsAnswered(buf[:n], id, q); err == nil || n >= 2 && uint16(buf[0])<<8|uint16(buf[1]) == id {
			return err
		}
		// A stray datagram (an earlier query's late answer): read on.
	}
}
