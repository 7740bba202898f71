package plane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"time"

	"fngw/check"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/ctl/socket"
	"fngw/kernel"
	"fngw/lcore"
	"fngw/nat"
)

// Host is what only the process that assembled DPDK can tell: its ports and
// its mbuf pool. The gateway implements it over DPDK, tests with a double.
// Its methods may be called from any goroutine.
type Host interface {
	// Links describes every port, with its counters when counters is set.
	Links(counters bool) ([]ctl.Link, error)
	// Mbufs reports how many mbufs of the pool are in use and available.
	Mbufs() (inUse, avail int)
}

// Config is what a Plane is built from.
type Config struct {
	File     *config.File // as loaded at start; reload reads File.Path again
	Datapath *lcore.Datapath
	Host     Host
	Ports    map[string]uint16 // port name → port ID
	Limits   nat.Limits        // the datapath's ID spaces
	Log      *slog.Logger
	// Probe runs one health check; nil is check.Prober's (tests give
	// their own).
	Probe func(context.Context, check.Target) check.Result
}

// Plane is the gateway's control plane. It owns the running configuration
// (the services with their destinations and local addresses, the timeouts,
// the stack's addresses, routes and static neighbours), the IDs the
// datapath counts under, the schedulers and the rate estimators; it applies
// commands and reloads, publishes snapshots to the workers and answers
// listings. Every method that reads or changes that state runs on the
// control lcore's goroutine, as a job (Handle, Reload) or a tick.
type Plane struct {
	log       *slog.Logger
	file      *config.File
	dp        *lcore.Datapath
	host      Host
	portIDs   map[string]uint16
	portNames map[uint16]string
	limits    nat.Limits
	started   time.Time // when New built the plane

	// owned by the control goroutine
	cfg         *ctl.Config
	fileLB      *ctl.Config // the file's configuration as last applied (reload merges from it)
	scheds      map[ctl.ServiceKey]*builtSched
	svcIDs      *ids[ctl.ServiceKey]
	destIDs     *ids[destKey]
	destOwner   map[uint32]uint32 // destination ID → the service ID it was given under
	lastWeights map[destKey]int32
	est         estimators
	list        listBufs
	reloadOK    bool      // the last reload succeeded (or none was tried)
	loadedAt    time.Time // the last successful load of the file: New or a reload

	// retired local addresses, still owned while connections hold their
	// ports: address → port name (apply.go, retiring)
	retired map[netip.Addr]string

	// The kernel path (kernel.go): nil kernel without kernel interfaces.
	kernel        *kernel.Sync
	kernelIn      chan kernel.State // the latest state the kernel reported, not taken yet
	kernelState   kernel.State      // control goroutine: what the kernel holds beside the gateway's
	addrConflicts []string          // control goroutine: the learned addresses not taken, as logged
	kernelPorts   map[string]bool   // ports with a kernel interface
	vipARP        map[string]string // port → vip_arp policy
	pushedAddrs   []kernel.Addr     // what kernelPush last gave the kernel
	pushedRoutes  []kernel.Route

	// Health checks (health.go).
	chk checks
}

// New builds the control plane of c.Datapath and applies the file's
// configuration to it: the stack's addresses, routes and static neighbours
// (on the ports the caller added to the stack), the services, the
// timeouts. The control lcore must not run yet; Start schedules what runs
// once it does.
func New(c Config) (*Plane, error) {
	p := &Plane{log: c.Log, file: c.File, dp: c.Datapath, host: c.Host, portIDs: c.Ports,
		portNames: make(map[uint16]string), limits: c.Limits,
		svcIDs: newIDs[ctl.ServiceKey](c.Limits.MaxServices), destIDs: newIDs[destKey](c.Limits.MaxDests), destOwner: make(map[uint32]uint32),
		lastWeights: make(map[destKey]int32), started: time.Now(), reloadOK: true}
	p.loadedAt = p.started
	for name, id := range c.Ports {
		p.portNames[id] = name
	}
	p.kernelPorts, p.vipARP = make(map[string]bool), make(map[string]string)
	p.initChecks(c.Probe)
	if err := p.openKernel(c.File); err != nil {
		return nil, err
	}
	if err := p.apply(c.File.LB, false); err != nil {
		return nil, err
	}
	p.fileLB = c.File.LB
	if err := p.restore(c.File.Ctl.RestoreFile); err != nil {
		return nil, err
	}
	return p, nil
}

// restore applies the saved runtime state in path over the running
// configuration (ctl.Config.Overlay), if path is set and the file exists.
// Later reloads still apply only the changes made to the configuration
// file: what the saved state holds counts as made at runtime.
func (p *Plane) restore(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		p.log.Info("no saved state to restore", "restore_file", path)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	cmds, err := ctl.ReadRestore(f)
	if err != nil {
		return fmt.Errorf("restore_file %s: %w", path, err)
	}
	next := p.cfg.Clone()
	if err := next.Overlay(cmds); err != nil {
		return fmt.Errorf("restore_file %s: %w", path, err)
	}
	if err := p.apply(next, false); err != nil {
		return fmt.Errorf("restore_file %s: %w", path, err)
	}
	p.log.Info("restored the saved state", "restore_file", path, "commands", len(cmds))
	return nil
}

// Start schedules the plane's work on the control lcore: the rate
// estimators' tick and, once it runs, a gratuitous ARP for every owned
// address. Call it before the control lcore's Run.
func (p *Plane) Start() {
	p.dp.Control.OnTick(ctl.EstimatorInterval, p.tick)
	p.dp.Control.Submit(p.announce)
	if p.kernel != nil {
		go p.watchKernel()
	}
}

// Handle serves one control-socket request by running it as a job on the
// control goroutine, so that commands are serialized with each other and
// with the stack.
func (p *Plane) Handle(req socket.Request) socket.Response {
	var resp socket.Response
	switch err := p.dp.Control.Do(func() { resp = p.exec(req.Cmd) }); {
	case errors.Is(err, lcore.ErrStopped):
		return socket.Response{Code: socket.CodeInternal, Error: "the gateway is stopping"}
	case err != nil: // a bug: logged with its stack, the running state is unchanged
		return socket.Response{Code: socket.CodeInternal, Error: fmt.Sprintf("%s: %v; the gateway goes on (see its log)", req.Cmd, err)}
	}
	return resp
}

// Reload re-reads the configuration file on the control goroutine and logs
// what it did (SIGHUP).
func (p *Plane) Reload() {
	p.dp.Control.Submit(func() {
		r, err := p.reload(false)
		p.reloaded(err)
		switch {
		case r != nil && err != nil:
			p.log.Error("reloaded in part", "file", r.path, "changes", len(r.changes), "err", err)
		case err != nil:
			p.log.Error("reload failed; running configuration kept", "err", err)
		default:
			p.log.Info("reloaded", "file", r.path, "changes", len(r.changes))
		}
	})
}

// exec runs a command on the control goroutine.
func (p *Plane) exec(cmd ctl.Command) socket.Response {
	var out bytes.Buffer
	err := p.dispatch(cmd, &out)
	resp := socket.Response{Stdout: out.String()}
	if err != nil {
		resp.Code, resp.Error = errCode(err), err.Error()
	}
	return resp
}

func errCode(err error) string {
	var ue *ctl.UsageError
	switch {
	case errors.As(err, &ue):
		return socket.CodeUsage
	case errors.Is(err, ctl.ErrNoService):
		return socket.CodeNoService
	case errors.Is(err, ctl.ErrNotFound):
		return socket.CodeNotFound
	case errors.Is(err, ctl.ErrExists):
		return socket.CodeExists
	case errors.Is(err, ctl.ErrInvalid):
		return socket.CodeInvalid
	case errors.Is(err, ctl.ErrFull):
		return socket.CodeFull
	}
	var ce config.Errors
	if errors.As(err, &ce) {
		return socket.CodeInvalid
	}
	return socket.CodeInternal
}

// dispatch runs cmd, writing what it prints to w.
func (p *Plane) dispatch(cmd ctl.Command, w io.Writer) error {
	asJSON := cmd.List != nil && cmd.List.JSON
	switch cmd.Op {
	case ctl.OpList, ctl.OpGetLaddr, ctl.OpSave:
		t := p.table(cmd.List != nil && cmd.List.Conn)
		if cmd.Op == ctl.OpList {
			p.listed(t) // effective weights; -S saves the configured ones
		}
		return ctl.Render(w, cmd, t)
	case ctl.OpZero:
		if err := p.cfg.CheckService(cmd.Service); err != nil {
			return err // ipvsadm -Z of a missing service: "No such service"
		}
		p.zero(cmd.Service)
		return nil
	case ctl.OpRestore:
		next := p.cfg.Clone()
		if err := next.ApplyBatch(cmd.Batch); err != nil {
			return err
		}
		return p.apply(next, true)
	case ctl.OpListAddr:
		return ctl.WriteAddrs(w, p.addrStatuses(), asJSON)
	case ctl.OpListNeigh:
		return ctl.WriteNeighs(w, p.neighs(), asJSON)
	case ctl.OpListRoute:
		return ctl.WriteRoutes(w, p.routes(), asJSON)
	case ctl.OpListMark:
		return ctl.WriteMarks(w, p.cfg.Marks, asJSON)
	case ctl.OpLinkShow:
		return p.links(w, cmd)
	case ctl.OpStats:
		return ctl.WriteCores(w, p.coreStatuses(), asJSON)
	case ctl.OpResetGaps:
		return p.resetGaps()
	case ctl.OpCheckShow:
		return ctl.WriteChecks(w, p.checkStatuses(), time.Now(), asJSON)
	case ctl.OpMem:
		return ctl.WriteMem(w, p.mem(), asJSON)
	case ctl.OpHealth:
		h, err := p.gatewayHealth()
		if err != nil {
			return err
		}
		return ctl.WriteGatewayHealth(w, h)
	case ctl.OpSysctlShow:
		name := ""
		if cmd.Sysctl != nil {
			name = cmd.Sysctl.Name
		}
		return ctl.WriteSysctl(w, p.cfg.Sysctl, name, asJSON)
	case ctl.OpReload:
		r, err := p.reload(cmd.DryRun)
		if !cmd.DryRun {
			p.reloaded(err)
		}
		if r != nil {
			io.WriteString(w, r.String())
		}
		return err
	}
	if !cmd.Op.Mutates() {
		return &ctl.UsageError{Msg: fmt.Sprintf("%q is not a command the gateway runs; use %s (gw -h)", cmd.Op, ctl.Commands)}
	}
	if cmd.Op == ctl.OpDelLaddr && cmd.Laddr != nil {
		if err := p.laddrIdle(cmd.Laddr.Addr); err != nil {
			return err
		}
	}
	next := p.cfg.Clone()
	if err := next.Apply(cmd); err != nil {
		return err
	}
	return p.apply(next, true)
}

// links is `link show`: every port, or the one cmd names.
func (p *Plane) links(w io.Writer, cmd ctl.Command) error {
	o := ctl.ListOptions{}
	if cmd.List != nil {
		o = *cmd.List
	}
	all, err := p.host.Links(o.Stats)
	if err != nil {
		return err
	}
	list := all
	if cmd.Dev != "" {
		list = nil
		for _, l := range all {
			if l.Name == cmd.Dev {
				list = append(list, l)
			}
		}
		if len(list) == 0 {
			return fmt.Errorf("%w: no port named %q", ctl.ErrNotFound, cmd.Dev)
		}
	}
	return ctl.WriteLinks(w, list, o.JSON)
}

// gatewayHealth is what `gw health` judges: how long ago each worker
// began a turn, the ports' links and their kernel interfaces' state. That
// the control lcore runs this job at all is the rest of the verdict.
func (p *Plane) gatewayHealth() (ctl.GatewayHealth, error) {
	var h ctl.GatewayHealth
	for i, w := range p.dp.Workers {
		h.Workers = append(h.Workers, ctl.WorkerHealth{Core: i, SinceTurn: w.SinceTurn()})
	}
	links, err := p.host.Links(false)
	if err != nil {
		return h, err
	}
	for _, l := range links {
		ph := ctl.PortHealth{Dev: l.Name, Up: l.Up}
		if l.Kernel != nil && p.kernel != nil {
			up, err := p.kernel.Up(l.Name)
			if err != nil {
				return h, err
			}
			ph.Kernel = &ctl.KernelHealth{Dev: l.Kernel.Iface, Up: up}
		}
		h.Ports = append(h.Ports, ph)
	}
	return h, nil
}

// mem is `gw mem`. The pool's counts are read without stopping the lcores:
// in use counts the mbufs outside the pool and its per-lcore caches at the
// moment of the read.
func (p *Plane) mem() ctl.MemStatus {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	inUse, avail := p.host.Mbufs()
	rings := p.dp.RingCounts()
	elsewhere := inUse
	for _, n := range rings {
		elsewhere -= n
	}
	return ctl.MemStatus{Mbufs: inUse + avail, MbufsInUse: inUse, MbufsAvail: avail, InRings: rings, Elsewhere: max(elsewhere, 0),
		HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()}
}
