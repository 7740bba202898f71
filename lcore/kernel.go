package lcore

import (
	"fngw/arp"
	"fngw/dpdk"
	"fngw/header"
)

// KernelLink is a port's kernel path: a DPDK port whose other side is a
// kernel network interface (net_tap or virtio_user), through which the
// kernel of the gateway's host sends and receives on the data port. The
// control lcore alone polls and sends on the kernel port (queue 0).
type KernelLink struct {
	Data, Kernel uint16 // DPDK port IDs
}

// toKernel is the user tag of a packet a worker hands to the control lcore
// for the kernel path of its port (see Worker.toControl: a next hop is
// never 255.255.255.255).
const toKernel = ^uint32(0)

// Default rate of the kernel's traffic out of a data port, packets per
// second and burst: ample for SSH, BGP, VRRP and health checks, and a bound
// on what a runaway host process can put on the wire through the control
// lcore.
const (
	DefaultKernelRate  = 200000
	DefaultKernelBurst = 4096
)

// KernelStats are the counters of one port's kernel path.
type KernelStats struct {
	ToPackets     uint64 `json:"to_kernel_packets"`
	ToBytes       uint64 `json:"to_kernel_bytes"`
	ToDropped     uint64 `json:"to_kernel_dropped"` // the kernel interface did not take them
	FromPackets   uint64 `json:"from_kernel_packets"`
	FromBytes     uint64 `json:"from_kernel_bytes"`
	FromLimited   uint64 `json:"from_kernel_rate_limited"`
	FromMalformed uint64 `json:"from_kernel_malformed"` // shorter than an Ethernet header, or chained
}

// kernelPath is the control lcore's state of one kernel link.
type kernelPath struct {
	link  KernelLink
	out   outBuf // toward the kernel interface
	limit arp.TokenBucket
	cnt   struct {
		to, toBytes, toDropped, from, fromBytes, fromLimited, fromMalformed counter
	}
}

// newKernelPaths builds the control lcore's kernel paths, indexed by data
// port ID (nil where a port has none).
func (c *Control) newKernelPaths(newBurst func(int) *dpdk.Burst) {
	rate, burst := c.cfg.KernelRate, c.cfg.KernelBurst
	if rate == 0 {
		rate, burst = DefaultKernelRate, DefaultKernelBurst
	}
	for _, l := range c.cfg.Kernel {
		for int(l.Data) >= len(c.kernel) {
			c.kernel = append(c.kernel, nil)
		}
		k := &kernelPath{link: l, limit: arp.NewTokenBucket(rate, burst, 0)}
		send := func(b *dpdk.Burst, n int) int { return c.cfg.IO.TxBurst(l.Kernel, 0, b, 0, n) }
		k.out = newOutBuf(newBurst, send, &k.cnt.to, &k.cnt.toDropped)
		c.kernel[l.Data] = k
	}
}

// kernelOf is the kernel path of data port p, or nil.
func (c *Control) kernelOf(p uint16) *kernelPath {
	if int(p) < len(c.kernel) {
		return c.kernel[p]
	}
	return nil
}

// KernelStats copies the counters of data port's kernel path (zero when
// it has none). Safe from any goroutine.
func (c *Control) KernelStats(port uint16) KernelStats {
	k := c.kernelOf(port)
	if k == nil {
		return KernelStats{}
	}
	n := &k.cnt
	return KernelStats{ToPackets: n.to.get(), ToBytes: n.toBytes.get(), ToDropped: n.toDropped.get(),
		FromPackets: n.from.get(), FromBytes: n.fromBytes.get(), FromLimited: n.fromLimited.get(), FromMalformed: n.fromMalformed.get()}
}

// toKernel queues m, received on its data port, for that port's kernel
// interface; without one it is freed (ignored).
func (c *Control) toKernel(m *dpdk.Mbuf) {
	k := c.kernelOf(m.Port())
	if k == nil {
		c.ignore(m)
		return
	}
	k.cnt.toBytes.add(uint64(m.DataLen()))
	k.out.put(m, c.cfg.IO)
}

// copyToKernel hands a copy of frame, received on port, to the port's
// kernel interface (ARP, which the control lcore also answers).
func (c *Control) copyToKernel(port uint16, frame []byte) {
	if c.kernelOf(port) == nil {
		return
	}
	m := c.alloc()
	if m == nil {
		return
	}
	m.SetData(m.DataOff(), copy(m.Room()[m.DataOff():], frame))
	m.SetPort(port)
	c.toKernel(m)
}

// pollKernel receives what the kernel sends on each kernel interface and
// sends it out of the data port unchanged (through the tx worker), within
// the link's rate; it returns how many frames it took.
func (c *Control) pollKernel(now int64) int {
	total := 0
	for _, k := range c.kernel {
		if k == nil {
			continue
		}
		n := c.cfg.IO.RxBurst(k.link.Kernel, 0, c.rx)
		for i := range n {
			m := c.rx.Pkts[i]
			switch {
			case m.NbSegs() != 1 || int(m.DataLen()) < header.EthernetLen:
				k.cnt.fromMalformed.add(1)
				c.free(m)
			case !k.limit.Allow(now):
				k.cnt.fromLimited.add(1)
				c.free(m)
			default:
				k.cnt.from.add(1)
				k.cnt.fromBytes.add(uint64(m.DataLen()))
				c.send(m, k.link.Data)
			}
		}
		total += n
	}
	return total
}

// flushKernel sends what is queued for the kernel interfaces.
func (c *Control) flushKernel() {
	for _, k := range c.kernel {
		if k != nil {
			k.out.flush(c.cfg.IO)
		}
	}
}
