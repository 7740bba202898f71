package plane

import (
	"fmt"
	"strings"

	"fngw/ctl"
	"fngw/ctl/config"
)

// reloadReport is what a reload did, or would do: the changes to the
// running configuration and the settings that need a restart.
type reloadReport struct {
	path    string
	dryRun  bool
	changes []ctl.Change
	restart []string // "port dpdk1: mtu 1500→9000"
}

func (r *reloadReport) String() string {
	var b strings.Builder
	verb := "applied"
	if r.dryRun {
		verb = "to apply (dry run)"
	}
	fmt.Fprintf(&b, "%s: %d changes %s\n", r.path, len(r.changes), verb)
	for _, c := range r.changes {
		b.WriteString(c.String() + "\n")
	}
	for _, s := range r.restart {
		fmt.Fprintf(&b, "! %s needs a restart; not applied\n", s)
	}
	return b.String()
}

// reload re-reads the configuration file and applies the changes made to it
// since it was last applied (ctl.Merge: what was created or changed at
// runtime and not changed in the file is left alone), through the same path
// as the CLI. Settings that need a restart (EAL, ports, workers, pool,
// endpoints) are reported by name and not applied; the reload then fails
// (after applying the rest) so that the operator and scripts see it. With
// dryRun nothing is changed.
func (p *Plane) reload(dryRun bool) (*reloadReport, error) {
	f, err := config.Load(p.file.Path)
	if err != nil {
		return nil, err
	}
	next, changes, err := ctl.Merge(p.fileLB, f.LB, p.cfg)
	if err != nil {
		return nil, ctl.Invalidf("reload of %s: %v; running configuration kept", p.file.Path, err)
	}
	r := &reloadReport{path: p.file.Path, dryRun: dryRun, changes: changes, restart: restartNeeded(p.file, f)}
	if dryRun {
		if err := next.CheckServed(); err != nil {
			return nil, err
		}
	} else {
		if err := p.apply(next, true); err != nil {
			return nil, err
		}
		p.fileLB = f.LB
		for _, c := range changes {
			p.log.Info("reload", "change", c.String())
		}
		for _, s := range r.restart {
			p.log.Warn("reload: needs a restart; not applied", "setting", s)
		}
	}
	if len(r.restart) > 0 {
		return r, ctl.Invalidf("%d setting(s) of %s need a restart (listed above); the rest is applied", len(r.restart), p.file.Path)
	}
	return r, nil
}

// restartNeeded names the settings that differ between the running file
// and the new one and that only a restart applies.
func restartNeeded(old, cur *config.File) []string {
	var out []string
	diff := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			out = append(out, fmt.Sprintf("%s %v→%v", what, a, b))
		}
	}
	diff("eal: lcores", old.EAL.LcoresText, cur.EAL.LcoresText)
	diff("eal: memory_mb", old.EAL.MemoryMB, cur.EAL.MemoryMB)
	diff("eal: hugepages", old.EAL.Hugepages, cur.EAL.Hugepages)
	diff("eal: file_prefix", old.EAL.FilePrefix, cur.EAL.FilePrefix)
	diff("eal: args", old.EAL.Args, cur.EAL.Args)
	for _, op := range old.Ports {
		np, ok := cur.Port(op.Name)
		if !ok {
			out = append(out, "port "+op.Name+": removed")
			continue
		}
		w := "port " + op.Name + ":"
		diff(w+" device", op.Device, np.Device)
		diff(w+" queues", op.Queues, np.Queues)
		diff(w+" rx_desc", op.RxDesc, np.RxDesc)
		diff(w+" tx_desc", op.TxDesc, np.TxDesc)
		diff(w+" mtu", op.MTU, np.MTU)
		diff(w+" mac", op.MAC, np.MAC)
		diff(w+" promiscuous", op.Promiscuous, np.Promiscuous)
	}
	for _, np := range cur.Ports {
		if _, ok := old.Port(np.Name); !ok {
			out = append(out, "port "+np.Name+": added")
		}
	}
	diff("workers (lcore, rx queues)", old.Workers, cur.Workers)
	diff("session: capacity_per_core", old.Session.CapacityPerCore, cur.Session.CapacityPerCore)
	diff("pool: mbufs", old.Pool.Mbufs, cur.Pool.Mbufs)
	diff("pool: cache_size", old.Pool.CacheSize, cur.Pool.CacheSize)
	diff("ctl: socket", old.Ctl.Socket, cur.Ctl.Socket)
	diff("ctl: metrics", old.Ctl.Metrics, cur.Ctl.Metrics)
	diff("log: level", old.Log.Level, cur.Log.Level)
	diff("idle_sleep_us", old.IdleSleepUS, cur.IdleSleepUS)
	diff("idle_polls", old.IdlePolls, cur.IdlePolls)
	return out
}
