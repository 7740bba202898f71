package keepalived

import (
	"fmt"
	"reflect"
	"time"
)

// Service is a [[service]] of the fngw configuration, translated from a
// virtual_server. Values are in fngw's spelling; a zero value is a key not
// written (the fngw default applies).
type Service struct {
	Pos         Pos    // the virtual_server line
	Source      string // "virtual_server 198.18.1.100 80", for the comment above it
	Proto       string // tcp or udp
	VIP         string // ADDR:PORT
	Sched       string
	Flags       []string
	Persistent  int // seconds
	Netmask     string
	OPS         bool
	Laddrs      []string // "ADDR dev PORT" or "ADDR"
	NeedLaddrs  bool     // FULLNAT without local addresses: a commented placeholder is written
	Quorum      int
	SorryServer string
	Alpha       bool
	NotifyUp    string
	NotifyDown  string
	Check       *Check // the checker every real server has, if they all have the same
	Dests       []Dest
}

// Dest is a [[service.dest]], translated from a real_server.
type Dest struct {
	Pos        Pos
	Addr       string // ADDR:PORT
	Fwd        string // fullnat, masq, route, tunnel
	Weight     int
	UThreshold int
	LThreshold int
	Check      *Check // when the real servers' checkers differ
}

// Check is a [service.check] or [service.dest.check], translated from a
// real server's checker with the options it inherits.
type Check struct {
	Type            string // tcp, http, https, udp, dns, misc
	Port            int    // 0: the destination's port
	Path            string
	ExpectStatus    []int
	Digest          string
	ExpectBodyRegex string
	Name            string // dns
	QType           string // dns
	Payload         string // udp, hex
	Expect          string // udp, hex
	Command         string // misc
	Interval        time.Duration
	Timeout         time.Duration
	Rise            int
	Fall            int
	OnFailure       string // inhibit or remove
	Source          string
}

func (c *Check) equal(o *Check) bool {
	return reflect.DeepEqual(c, o)
}

// Item is something of the keepalived configuration that was not
// translated, with where it was written and why; a Note is informational
// (a block that has nothing to do with load balancing, such as VRRP).
type Item struct {
	Pos    Pos
	What   string // the directive, e.g. "hysteresis 2"
	Reason string
	Note   bool
}

func (i Item) String() string {
	loc := i.Pos.File
	if i.Pos.Line > 0 {
		loc = i.Pos.String()
	}
	if i.Note {
		return fmt.Sprintf("%s: not translated: %s (%s)", loc, i.What, i.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", loc, i.What, i.Reason)
}
