package kernel

import (
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
)

// subscription is one set of event sockets (addresses, routes, links), each
// read by a goroutine of the netlink package that sends on its channel and
// closes it when its socket fails (ENOBUFS when the kernel had to drop
// events) or is closed.
type subscription struct {
	addrs  chan netlink.AddrUpdate
	routes chan netlink.RouteUpdate
	links  chan netlink.LinkUpdate
	done   chan struct{} // closing it closes the sockets
}

// eventQueue is the length of each event channel: room for a burst while
// Sync's goroutine is busy with a kernel request.
const eventQueue = 1024

// subscribe opens the event sockets in Sync's namespace.
func (s *Sync) subscribe() error {
	sub := &subscription{
		addrs:  make(chan netlink.AddrUpdate, eventQueue),
		routes: make(chan netlink.RouteUpdate, eventQueue),
		links:  make(chan netlink.LinkUpdate, eventQueue),
		done:   make(chan struct{}),
	}
	onErr := func(err error) {
		select {
		case <-sub.done: // the sockets were closed on purpose
		default:
			s.log.Warn("kernel: netlink events", "err", err)
		}
	}
	ns := s.ns
	err := netlink.AddrSubscribeWithOptions(sub.addrs, sub.done, netlink.AddrSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: s.rcvbuf, ReceiveBufferForceSize: true,
	})
	if err != nil {
		sub.addrs, sub.routes, sub.links = nil, nil, nil
		sub.stop()
		return fmt.Errorf("kernel: subscribe to address events: %w", err)
	}
	err = netlink.RouteSubscribeWithOptions(sub.routes, sub.done, netlink.RouteSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: s.rcvbuf, ReceiveBufferForceSize: true,
	})
	if err != nil {
		sub.routes, sub.links = nil, nil
		sub.stop()
		return fmt.Errorf("kernel: subscribe to route events: %w", err)
	}
	err = netlink.LinkSubscribeWithOptions(sub.links, sub.done, netlink.LinkSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: s.rcvbuf, ReceiveBufferForceSize: true,
	})
	if err != nil {
		sub.links = nil
		sub.stop()
		return fmt.Errorf("kernel: subscribe to link events: %w", err)
	}
	s.sub = sub
	return nil
}

// stop closes the sockets and waits for the netlink package's goroutines to
// close the channels (a nil channel has no goroutine behind it).
func (sub *subscription) stop() {
	close(sub.done)
	if sub.addrs != nil {
		for range sub.addrs {
		}
	}
	if sub.routes != nil {
		for range sub.routes {
		}
	}
	if sub.links != nil {
		for range sub.links {
		}
	}
}

// resubscribe replaces a subscription that lost events (or failed) and
// reads everything again, since what was lost is unknown. If subscribing
// fails it returns when to try again.
func (s *Sync) resubscribe() <-chan time.Time {
	if s.sub != nil {
		s.sub.stop()
		s.sub = nil
		s.log.Warn("kernel: netlink events lost; reading addresses and routes again")
	}
	if err := s.subscribe(); err != nil {
		s.log.Error("kernel: events", "err", err, "retry_in", retryAfter)
		return time.After(retryAfter)
	}
	if err := s.dump(); err != nil {
		s.log.Error("kernel: dump", "err", err)
		s.redump = true
	}
	s.arm()
	return nil
}
