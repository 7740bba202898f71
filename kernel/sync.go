package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// window is how long Sync gathers events before it acts on them and
	// calls Notify: counted from the first event, never extended, so a
	// change is reported within window (plus the time to apply it) however
	// long a burst lasts.
	window = 30 * time.Millisecond
	// eventBuffer is the receive buffer of each event socket: a routing
	// daemon loading a large table must not overflow it (when it does, the
	// kernel drops events and Sync dumps everything again).
	eventBuffer = 8 << 20
	// retryAfter is how long Sync waits before subscribing again when a
	// subscription failed.
	retryAfter = time.Second
	// requestTimeout bounds each netlink request, so a kernel that does not
	// answer cannot hold Sync's goroutine forever.
	requestTimeout = 5 * time.Second
)

// ErrClosed is returned by a method called after Close.
var ErrClosed = errors.New("kernel: sync closed")

// Sync keeps the kernel interfaces of the gateway's ports configured as the
// gateway says, and reports what others configured on them. One goroutine
// owns its state; the methods hand their work to it and wait, so they may be
// called from any goroutine.
type Sync struct {
	ns     netns.NsHandle // netns.None() for the current namespace
	h      *netlink.Handle
	log    *slog.Logger
	notify func(State)
	rcvbuf int

	req    chan func()
	closed atomic.Bool
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the loop has returned

	// Owned by the loop's goroutine.
	m         mirror
	byPort    map[string]*link
	ownAddrs  map[Addr]struct{}
	ownRoutes map[netip.Prefix]Route
	// What could not be applied and why, logged when it first fails and
	// when it succeeds at last.
	failingAddrs  map[Addr]string
	failingRoutes map[netip.Prefix]string
	sub           *subscription // nil while not subscribed
	timer         *time.Timer
	armed         bool
	redump        bool  // the kernel changed routes without telling: read it again
	last          State // what Notify was last given
	notified      bool
}

// Open starts mirroring links: it checks that every interface exists (the
// PMD creates them), sets each one's ARP behaviour (arp_ignore=1: answer ARP
// only for addresses on that interface; arp_announce=2: never announce
// another interface's address on it) and promote_secondaries=1 (removing an
// address does not remove the others of its subnet), subscribes to address,
// route and link events, and reads what the kernel holds. Notify is first
// called one window after Open: SetAddrs and SetRoutes called right after
// Open are applied by then, so the gateway's own addresses and routes are
// not reported at start.
func Open(links []Link, o Options) (*Sync, error) {
	s := &Sync{
		ns:            netns.None(),
		log:           o.Log,
		notify:        o.Notify,
		rcvbuf:        o.rcvbuf,
		req:           make(chan func()),
		done:          make(chan struct{}),
		exited:        make(chan struct{}),
		m:             mirror{links: map[int]*link{}, routes: map[routeKey][]kroute{}},
		byPort:        map[string]*link{},
		ownAddrs:      map[Addr]struct{}{},
		ownRoutes:     map[netip.Prefix]Route{},
		failingAddrs:  map[Addr]string{},
		failingRoutes: map[netip.Prefix]string{},
	}
	if o.Namespace != 0 {
		s.ns = o.Namespace
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.notify == nil {
		s.notify = func(State) {}
	}
	if s.rcvbuf == 0 {
		s.rcvbuf = eventBuffer
	}
	var err error
	if s.h, err = netlink.NewHandleAt(s.ns, unix.NETLINK_ROUTE); err != nil {
		return nil, fmt.Errorf("kernel: netlink in namespace %s: %w", s.ns, err)
	}
	if err := s.h.SetSocketTimeout(requestTimeout); err != nil {
		s.h.Close()
		return nil, fmt.Errorf("kernel: netlink socket timeout: %w", err)
	}
	if err := s.openLinks(links); err != nil {
		s.h.Close()
		return nil, err
	}
	if err := s.subscribe(); err != nil {
		s.h.Close()
		return nil, err
	}
	if err := s.dump(); err != nil {
		s.sub.stop()
		s.h.Close()
		return nil, err
	}
	s.timer = time.NewTimer(window)
	s.armed = true
	go s.loop()
	return s, nil
}

// openLinks resolves the interfaces and sets their ARP behaviour.
func (s *Sync) openLinks(links []Link) error {
	for _, l := range links {
		if s.byPort[l.Port] != nil {
			return fmt.Errorf("kernel: port %q has two kernel interfaces (%q and %q)", l.Port, s.byPort[l.Port].Name, l.Name)
		}
		dev, err := s.h.LinkByName(l.Name)
		if err != nil {
			return fmt.Errorf("kernel: interface %q of port %q: %w (the port's kernel interface must exist first)", l.Name, l.Port, err)
		}
		a := dev.Attrs()
		if s.m.links[a.Index] != nil {
			return fmt.Errorf("kernel: interface %q is the kernel interface of ports %q and %q", l.Name, s.m.links[a.Index].Port, l.Port)
		}
		if err := s.setDevConf(a.Index); err != nil {
			return fmt.Errorf("kernel: interface %q of port %q: setting arp_ignore, arp_announce, promote_secondaries: %w", l.Name, l.Port, err)
		}
		k := &link{Link: l, dev: dev, index: a.Index, flags: a.RawFlags, addrs: map[netip.Prefix]struct{}{}}
		s.m.links[a.Index] = k
		s.byPort[l.Port] = k
	}
	return nil
}

// SetAddrs makes want the gateway's interface addresses on the kernel
// interfaces: the missing ones are added, the ones a previous call set and
// want no longer has are removed (whoever added them first: an address
// SetAddrs took is the gateway's). They are never reported as learned. The
// gateway's configuration wins for its own addresses: one removed from the
// kernel by someone else is put back within a window. An error names each
// address the kernel refused; those are tried again after the next kernel
// change. Only IPv4 addresses are accepted.
func (s *Sync) SetAddrs(want []Addr) error {
	return s.call(func() error {
		own := make(map[Addr]struct{}, len(want))
		for _, a := range want {
			if !a.Prefix.IsValid() || !a.Prefix.Addr().Is4() {
				return fmt.Errorf("kernel: address %q of port %q: only IPv4 addresses can be set", a.Prefix, a.Port)
			}
			if s.byPort[a.Port] == nil {
				return fmt.Errorf("kernel: address %s: port %q has no kernel interface", a, a.Port)
			}
			own[a] = struct{}{}
		}
		var errs []error
		for a := range s.ownAddrs {
			if _, ok := own[a]; !ok {
				errs = append(errs, s.delAddr(a))
			}
		}
		s.ownAddrs = own
		errs = append(errs, s.applyAddrs()...)
		s.arm()
		return errors.Join(errs...)
	})
}

// SetRoutes makes want the gateway's routes in the kernel: each is
// installed in the main table with protocol Protocol and metric 0 (so the
// kernel prefers it to a routing daemon's route for the same prefix, as the
// gateway does), through the kernel interfaces of its next hops' ports; the
// routes of Protocol on the mirrored interfaces that want does not have are
// deleted. They are never reported as learned. The kernel drops routes on
// an interface that goes down and when the address that made a next hop
// reachable goes away; Sync puts them back when the interface comes up and
// after the next kernel change.
//
// A route through an interface that is down is installed when it comes up.
// A route the kernel refuses (a next hop not on a connected subnet yet, a
// route of someone else holding the same prefix at metric 0) is named in
// the error and tried again after each kernel change; the others are
// installed. A prefix both configured here and learned is reported as
// learned too: which one the gateway uses is its policy.
func (s *Sync) SetRoutes(want []Route) error {
	return s.call(func() error {
		own := make(map[netip.Prefix]Route, len(want))
		for _, r := range want {
			n, err := normalizeRoute(r, s.byPort)
			if err != nil {
				return err
			}
			if o, ok := own[n.Prefix]; ok {
				return fmt.Errorf("kernel: routes %s and %s: one route per prefix", o, n)
			}
			own[n.Prefix] = n
		}
		s.ownRoutes = own
		errs := s.applyRoutes()
		s.arm()
		return errors.Join(errs...)
	})
}

// SetLink sets port's kernel interface up or down (following the data
// port's link) and, if mtu is not zero, its MTU. Bringing it up puts the
// gateway's routes back at once (the kernel dropped them when it went down).
func (s *Sync) SetLink(port string, up bool, mtu int) error {
	return s.call(func() error {
		l := s.byPort[port]
		if l == nil {
			return fmt.Errorf("kernel: port %q has no kernel interface", port)
		}
		if mtu != 0 {
			if err := s.h.LinkSetMTU(l.dev, mtu); err != nil {
				return fmt.Errorf("kernel: interface %q of port %q: MTU %d: %w", l.Name, port, mtu, err)
			}
		}
		set, state := s.h.LinkSetDown, "down"
		if up {
			set, state = s.h.LinkSetUp, "up"
		}
		if err := set(l.dev); err != nil {
			return fmt.Errorf("kernel: interface %q of port %q: set %s: %w", l.Name, port, state, err)
		}
		l.flags &^= unix.IFF_UP
		if up {
			l.flags |= unix.IFF_UP // before the event, so the routes go back now
		}
		s.redump = true
		s.flush()
		return nil
	})
}

// Up reports whether port's kernel interface is up and has a carrier
// (IFF_UP and IFF_LOWER_UP), as the kernel last said: what an operator's
// `ip link set IFACE down`, or a daemon watching the interface (keepalived's
// track_interface), sees. A deleted interface is down.
func (s *Sync) Up(port string) (bool, error) {
	var up bool
	err := s.call(func() error {
		l := s.byPort[port]
		if l == nil {
			return fmt.Errorf("kernel: port %q has no kernel interface", port)
		}
		const want = unix.IFF_UP | unix.IFF_LOWER_UP
		up = !l.gone && l.flags&want == want
		return nil
	})
	return up, err
}

// Close stops following the kernel and returns once Sync's goroutines have
// ended. It leaves the kernel interfaces as they are (the PMD removes them).
func (s *Sync) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(s.done)
	<-s.exited
	s.h.Close()
	return nil
}

// call runs f on the loop's goroutine and returns its result.
func (s *Sync) call(f func() error) error {
	errc := make(chan error, 1)
	select {
	case s.req <- func() { errc <- f() }:
		return <-errc
	case <-s.exited:
		return ErrClosed
	case <-s.done:
		return ErrClosed
	}
}

// loop is Sync's goroutine: it applies events to the mirror, runs the
// methods' work, and flushes one window after the first change.
func (s *Sync) loop() {
	defer close(s.exited)
	var retry <-chan time.Time
	for {
		var sub subscription
		if s.sub != nil {
			sub = *s.sub
		}
		select {
		case u, ok := <-sub.addrs:
			if !ok {
				retry = s.resubscribe()
				continue
			}
			if s.m.addr(u.LinkIndex, u.LinkAddress, u.NewAddr) {
				if !u.NewAddr {
					s.redump = true // the kernel drops the routes through it without telling
				}
				s.arm()
			}
		case u, ok := <-sub.routes:
			if !ok {
				retry = s.resubscribe()
				continue
			}
			if s.m.route(u.Type, u.NlFlags, &u.Route) {
				s.arm()
			}
		case u, ok := <-sub.links:
			if !ok {
				retry = s.resubscribe()
				continue
			}
			if s.linkEvent(u) {
				s.arm()
			}
		case <-retry:
			retry = s.resubscribe()
		case f := <-s.req:
			f()
		case <-s.timer.C:
			s.armed = false
			s.flush()
		case <-s.done:
			if s.sub != nil {
				s.sub.stop()
			}
			s.timer.Stop()
			return
		}
	}
}

// linkEvent follows a mirrored interface's flags; it reports whether
// anything Sync reports may have changed.
func (s *Sync) linkEvent(u netlink.LinkUpdate) bool {
	l := s.m.links[int(u.Index)]
	if l == nil {
		return false
	}
	if u.Header.Type == unix.RTM_DELLINK {
		if !l.gone {
			s.log.Warn("kernel: interface deleted; its port's addresses and routes are no longer mirrored", "port", l.Port, "iface", l.Name)
		}
		l.gone = true
		clear(l.addrs)
		s.redump = true
		return true
	}
	const watched = unix.IFF_UP | unix.IFF_LOWER_UP
	if u.Flags&watched == l.flags&watched {
		return false
	}
	l.flags = u.Flags
	s.redump = true // down: the kernel flushed its routes; up: its connected routes are back
	return true
}

// arm starts the window unless it runs already.
func (s *Sync) arm() {
	if !s.armed {
		s.armed = true
		s.timer.Reset(window)
	}
}

// flush brings the mirror up to date where the kernel changed it silently,
// puts back what the gateway owns, and reports the State if it changed.
func (s *Sync) flush() {
	if s.redump {
		if err := s.dump(); err != nil {
			s.log.Error("kernel: dump", "err", err)
		} else {
			s.redump = false
		}
	}
	s.applyAddrs() // failures are logged by the apply functions
	s.applyRoutes()
	st := s.m.learned(s.ownAddrs)
	if s.notified && st.Equal(s.last) {
		return
	}
	s.last, s.notified = st, true
	s.notify(st)
}

// dump reads the addresses and routes the kernel holds on the mirrored
// interfaces into the mirror, replacing what it had.
func (s *Sync) dump() error {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return s.h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("kernel: address dump: %w", err)
	}
	for _, l := range s.m.links {
		clear(l.addrs)
	}
	for _, a := range addrs {
		s.m.addr(a.LinkIndex, *a.IPNet, true)
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return s.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return fmt.Errorf("kernel: route dump: %w", err)
	}
	clear(s.m.routes)
	for i := range routes {
		s.m.route(unix.RTM_NEWROUTE, unix.NLM_F_APPEND, &routes[i])
	}
	return nil
}

// retryDump runs a dump again when the kernel says a change interrupted it
// (the result may be inconsistent), a few times; then it keeps the last
// result, which the events of the interrupting changes correct.
func retryDump[T any](f func() ([]T, error)) ([]T, error) {
	for range 3 {
		v, err := f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	v, err := f()
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		err = nil
	}
	return v, err
}
