package gateway

import (
	"fmt"
	"net"
	"os"

	"fngw/ctl/config"
	"fngw/dpdk"
	"fngw/lcore"
)

// kernelPort is a port's kernel path: the DPDK device whose other side is
// the kernel interface [[port]] kernel_iface names.
type kernelPort struct {
	iface   string
	backend string // "net_tap", or "virtio_user" over vhost-net
	dev     *dpdk.Port
}

// kernelVdev is the EAL vdev of port i's kernel interface and its device
// name: virtio_user over /dev/vhost-net where the host has it (as DPVS's
// kernel interfaces), net_tap otherwise. The device numbers start at 100,
// clear of the numbers ports' own vdevs use.
func kernelVdev(i int, iface string, vhostNet bool) (vdev, name, backend string) {
	if vhostNet {
		name = fmt.Sprintf("virtio_user%d", 100+i)
		return name + ",path=/dev/vhost-net,queues=1,queue_size=1024,iface=" + iface, name, "virtio_user"
	}
	name = fmt.Sprintf("net_tap%d", 100+i)
	return name + ",iface=" + iface, name, "net_tap"
}

// hasVhostNet reports whether the host offers vhost-net.
func hasVhostNet() bool {
	_, err := os.Stat("/dev/vhost-net")
	return err == nil
}

// kernelEALArgs are the EAL arguments that create the kernel interfaces.
func kernelEALArgs(f *config.File) []string {
	var a []string
	for i, pc := range f.Ports {
		if pc.KernelIface != "" {
			vdev, _, _ := kernelVdev(i, pc.KernelIface, hasVhostNet())
			a = append(a, "--vdev", vdev)
		}
	}
	return a
}

// checkKernelIfaces refuses, before DPDK starts, a kernel interface name
// an interface of the host already has.
func checkKernelIfaces(f *config.File) error {
	for _, pc := range f.Ports {
		if pc.KernelIface == "" {
			continue
		}
		if _, err := net.InterfaceByName(pc.KernelIface); err == nil {
			return fmt.Errorf("port %s: kernel_iface %q: an interface of that name exists already (ip link show %s); choose another name", pc.Name, pc.KernelIface, pc.KernelIface)
		}
	}
	return nil
}

// setupKernel starts port p's kernel port (one queue each way, polled by
// the control lcore) with the data port's MAC and MTU.
func (g *Gateway) setupKernel(i int, p *port) error {
	_, name, backend := kernelVdev(i, p.cfg.KernelIface, hasVhostNet())
	dev, err := dpdk.PortByName(name)
	if err != nil {
		return fmt.Errorf("port %s: kernel_iface %s: %w", p.cfg.Name, p.cfg.KernelIface, err)
	}
	if _, err := dev.Configure(dpdk.PortConf{RxQueues: 1, TxQueues: 1, RxDesc: 512, TxDesc: 512, Pool: g.pool}); err != nil {
		return fmt.Errorf("port %s: kernel_iface %s: %w", p.cfg.Name, p.cfg.KernelIface, err)
	}
	if err := dev.SetMAC(p.mac); err != nil {
		return fmt.Errorf("port %s: kernel_iface %s: %w", p.cfg.Name, p.cfg.KernelIface, err)
	}
	if err := dev.Start(); err != nil {
		return fmt.Errorf("port %s: kernel_iface %s: %w", p.cfg.Name, p.cfg.KernelIface, err)
	}
	p.kernel = &kernelPort{iface: p.cfg.KernelIface, backend: backend, dev: dev}
	g.log.Info("kernel path", "port", p.cfg.Name, "iface", p.cfg.KernelIface, "backend", backend, "id", dev.ID)
	return nil
}

// kernelLinks lists the ports' kernel paths for the datapath.
func (g *Gateway) kernelLinks() []lcore.KernelLink {
	var l []lcore.KernelLink
	for _, p := range g.ports {
		if p.kernel != nil {
			l = append(l, lcore.KernelLink{Data: p.dev.ID, Kernel: p.kernel.dev.ID})
		}
	}
	return l
}
