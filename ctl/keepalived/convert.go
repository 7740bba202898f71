package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"fngw/ctl"
)

// keepalived's defaults, from its check_data.c, check_api.c and the
// checkers' sources (keepalived.conf(5) says the same).
const (
	defaultDelayLoop      = 60 * time.Second // delay_loop
	defaultConnectTimeout = 5 * time.Second  // connect_timeout
	defaultPersistence    = 360              // persistence_timeout without a value: IPVS_SVC_PERSISTENT_TIMEOUT
	defaultRetry          = 1                // retry, all checkers but DNS_CHECK (3) and MISC_CHECK (0)
	defaultDNSRetry       = 3
	defaultMiscRetry      = 0
	defaultDNSType        = "SOA"
	defaultDNSName        = "."
	maxLaddrRange         = 256 // addresses one local_address_group range may expand to
)

// Reasons shared by several directives.
const (
	whyVRRP     = `VRRP stays with keepalived; see README, "Migrating from keepalived"`
	whyNoEquiv  = "no fngw equivalent"
	whyOneCheck = "fngw runs one checker per real server; keepalived's further checkers are not translated"
)

// Convert translates the virtual_server blocks of a parsed keepalived.conf
// to fngw services and lists, with its position and a reason, everything
// it did not translate. Blocks unrelated to load balancing (global_defs,
// vrrp_*, static_*) are listed once each as notes.
func Convert(top []*Directive) ([]Service, []Item) {
	c := &converter{laddrGroups: map[string]*Directive{}, listed: map[*Directive]bool{}, used: map[string]bool{}, seen: map[string]Pos{}}
	for _, d := range top {
		if d.Name == "local_address_group" && len(d.Args) > 0 {
			c.laddrGroups[d.Args[0]] = d
		}
	}
	for _, d := range top {
		c.top(d)
	}
	for _, d := range top {
		if d.Name == "local_address_group" && len(d.Args) > 0 && !c.used[d.Args[0]] {
			c.note(d, "local_address_group "+d.Args[0], "no virtual_server names it in laddr_group_name")
		}
	}
	return c.services, c.items
}

type converter struct {
	services    []Service
	items       []Item
	laddrGroups map[string]*Directive
	used        map[string]bool     // local_address_groups named by a service
	listed      map[*Directive]bool // directives listed already (inherited options are listed once)
	seen        map[string]Pos      // "proto VIP:PORT" → the virtual_server translated for it
}

// list records d as not translated.
func (c *converter) list(d *Directive, reason string) {
	if c.listed[d] {
		return
	}
	c.listed[d] = true
	c.items = append(c.items, Item{Pos: d.Pos, What: text(d), Reason: reason})
}

func (c *converter) note(d *Directive, what, reason string) {
	c.items = append(c.items, Item{Pos: d.Pos, What: what, Reason: reason, Note: true})
}

// text is a directive as written, its block left out (but for a url
// block, its path).
func text(d *Directive) string {
	if d.Name == "url" {
		for _, o := range d.Block {
			if o.Name == "path" {
				return "url { " + text(o) + " }"
			}
		}
	}
	if d.Raw == "" {
		return d.Name
	}
	return d.Name + " " + d.Raw
}

func (c *converter) top(d *Directive) {
	switch {
	case d.Name == "virtual_server":
		c.virtualServer(d)
	case d.Name == "local_address_group":
		// translated with the services that name it
	case d.Name == "virtual_server_group":
		c.note(d, text(d), "groups are not supported yet; the virtual_server naming it is listed")
	case d.Name == "global_defs":
		c.note(d, "global_defs", "keepalived's own settings")
	case strings.HasPrefix(d.Name, "vrrp_"):
		c.note(d, text(d), whyVRRP)
	case slices.Contains([]string{"static_ipaddress", "static_routes", "static_rules"}, d.Name):
		c.note(d, d.Name, "the host's addresses and routes; the gateway's own are [[port]] addrs and [[route]]")
	case slices.Contains([]string{"linkbeat_interfaces", "track_file", "track_process", "bfd_instance", "garp_group", "net_namespace", "instance", "use_pid_dir"}, d.Name):
		c.note(d, text(d), "keepalived's own tracking and process settings")
	case d.Name == "SSL":
		c.list(d, "SSL_GET client certificates: "+whyNoEquiv)
	case slices.Contains([]string{"blklst_group", "whtlst_group", "deny_address_group", "tunnel_group"}, d.Name):
		c.list(d, "a DPVS feature fngw does not have")
	default:
		c.list(d, "unknown keyword")
	}
}

// opt is an option a virtual_server gives its real servers and a
// real_server its checkers, with the directive that set it.
type opt[T any] struct {
	v T
	d *Directive // nil: not set
}

func (o opt[T]) or(parent opt[T]) opt[T] {
	if o.d != nil {
		return o
	}
	return parent
}

// inherited are the options keepalived passes down: "the virtual server
// setting is the default for real servers, and the real server setting is
// the default for checkers".
type inherited struct {
	delayLoop        opt[time.Duration]
	connectTimeout   opt[time.Duration]
	retry            opt[int]
	delayBeforeRetry opt[time.Duration]
	warmup           opt[time.Duration]
	inhibit          opt[bool]
	alpha            opt[bool]
}

func (h inherited) or(p inherited) inherited {
	return inherited{h.delayLoop.or(p.delayLoop), h.connectTimeout.or(p.connectTimeout), h.retry.or(p.retry),
		h.delayBeforeRetry.or(p.delayBeforeRetry), h.warmup.or(p.warmup), h.inhibit.or(p.inhibit), h.alpha.or(p.alpha)}
}

// common parses an inherited option; false when d is not one.
func (c *converter) common(d *Directive, h *inherited) bool {
	switch d.Name {
	case "delay_loop":
		if v, ok := c.timer(d, time.Microsecond); ok {
			h.delayLoop = opt[time.Duration]{v, d}
		}
	case "connect_timeout":
		if v, ok := c.timer(d, time.Microsecond); ok {
			h.connectTimeout = opt[time.Duration]{v, d}
		}
	case "retry", "nb_get_retry", "nb_sock_retry":
		if v, ok := c.uint(d, 0, math.MaxInt32); ok {
			h.retry = opt[int]{v, d}
		}
	case "delay_before_retry":
		if v, ok := c.timer(d, 0); ok {
			h.delayBeforeRetry = opt[time.Duration]{v, d}
		}
	case "warmup":
		if v, ok := c.timer(d, 0); ok {
			h.warmup = opt[time.Duration]{v, d}
		}
	case "inhibit_on_failure":
		if v, ok := c.boolean(d); ok {
			h.inhibit = opt[bool]{v, d}
		}
	case "alpha":
		if v, ok := c.boolean(d); ok {
			h.alpha = opt[bool]{v, d}
		}
	default:
		return false
	}
	return true
}

// vsCtx is what a virtual_server's real servers need of it.
type vsCtx struct {
	svc  *Service
	port uint16
	fwd  string
	h    inherited
}

func (c *converter) virtualServer(d *Directive) {
	svc := Service{Pos: d.Pos, Source: text(d), Proto: "tcp", Sched: ctl.DefaultSched}
	switch {
	case len(d.Args) >= 1 && d.Args[0] == "group":
		c.list(d, "virtual server groups are not supported yet; write one virtual_server per address")
		return
	case len(d.Args) >= 1 && d.Args[0] == "fwmark":
		c.list(d, "not translated: the marks come from iptables rules keepalived does not hold; write [[service]] fwmark = N and its [[mark]] rules")
		return
	case len(d.Args) < 1 || len(d.Args) > 2:
		c.list(d, "want virtual_server ADDR PORT, group NAME or fwmark N")
		return
	}
	vip, err := netip.ParseAddr(d.Args[0])
	if err != nil {
		c.list(d, fmt.Sprintf("%q is not an IP address", d.Args[0]))
		return
	}
	if err := ctl.Served(vip); err != nil {
		c.list(d, err.Error())
		return
	}
	var port uint16
	if len(d.Args) == 2 {
		p, err := strconv.ParseUint(d.Args[1], 10, 16)
		if err != nil {
			c.list(d, fmt.Sprintf("port %q is not a number 0-65535", d.Args[1]))
			return
		}
		port = uint16(p)
	}
	svc.VIP = netip.AddrPortFrom(vip, port).String()
	vs := &vsCtx{svc: &svc, port: port, fwd: "masq"} // keepalived's default lvs_method is NAT
	var (
		flags                []*Directive
		laddrGroup           *Directive
		realServers          []*Directive
		quorumUp, quorumDown *Directive
		bad                  bool
	)
	for _, o := range d.Block {
		if c.common(o, &vs.h) {
			continue
		}
		switch o.Name {
		case "lb_algo", "lvs_sched":
			if c.args(o, 1, 1) {
				if err := ctl.CheckSched(o.Args[0]); err != nil {
					c.list(o, fmt.Sprintf("scheduler %q is not in fngw; %s written instead", o.Args[0], ctl.DefaultSched))
					svc.Sched = ctl.DefaultSched
				} else {
					svc.Sched = o.Args[0]
				}
			}
		case "lb_kind", "lvs_method":
			if f, ok := c.method(o); ok {
				vs.fwd = f
			}
		case "sh-port", "sh-fallback", "mh-port", "mh-fallback", "flag-1", "flag-2", "flag-3":
			flags = append(flags, o)
		case "persistence_timeout":
			if len(o.Args) == 0 {
				svc.Persistent = defaultPersistence
			} else if v, ok := c.uint(o, 1, ctl.MaxTimeout); ok {
				svc.Persistent = v
			}
		case "persistence_granularity":
			if c.args(o, 1, 1) {
				m, err := ctl.ParseMask(vip, o.Args[0])
				if err != nil {
					c.list(o, err.Error())
				} else {
					svc.Netmask = m.String()
				}
			}
		case "protocol":
			if c.args(o, 1, 1) {
				switch strings.ToLower(o.Args[0]) {
				case "tcp", "udp":
					svc.Proto = strings.ToLower(o.Args[0])
				default:
					c.list(o, "fngw balances TCP and UDP; the virtual_server is not translated")
					bad = true
				}
			}
		case "quorum":
			if v, ok := c.uint(o, 1, math.MaxInt32); ok {
				svc.Quorum = v
			}
		case "hysteresis":
			if v, ok := c.uint(o, 0, math.MaxInt32); ok && v != 0 {
				c.list(o, "fngw has no quorum hysteresis; the quorum is gained and lost at the same weight")
			}
		case "quorum_up":
			quorumUp = o
		case "quorum_down":
			quorumDown = o
		case "sorry_server":
			if c.args(o, 1, 2) {
				if a, ok := c.server(o, port); ok {
					svc.SorryServer = a
				}
			}
		case "laddr_group_name":
			if c.args(o, 1, 1) {
				laddrGroup = o
			}
		case "ip_family":
			if c.args(o, 1, 1) && o.Args[0] != "inet" {
				c.list(o, "only IPv4 is served now")
			}
		case "real_server":
			realServers = append(realServers, o)
		case "virtualhost":
			c.list(o, "the HTTP check's Host header: "+whyNoEquiv)
		case "ops":
			if c.args(o, 0, 0) {
				svc.OPS = true
			}
		case "ha_suspend", "smtp_alert", "omega", "persistence_engine", "hashed", "sorry_server_inhibit",
			"sorry_server_lvs_method", "weight", "snmp_name":
			c.list(o, whyNoEquiv)
		case "syn_proxy", "expire_quiescent_conn", "quic", "bind_dev", "blklst_group_name", "whtlst_group_name",
			"bps", "limit_proportion", "establish_timeout", "proxy_protocol", "src-range", "dst-range", "oif", "iif", "hash_target":
			c.list(o, "a DPVS option fngw does not have")
		default:
			c.list(o, "unknown keyword in virtual_server")
		}
	}
	if bad {
		return
	}
	if svc.Netmask != "" && svc.Persistent == 0 {
		svc.Persistent = defaultPersistence // keepalived: granularity implies persistence
	}
	if port == 0 && svc.Persistent == 0 {
		c.list(d, "a virtual_server without a port must be persistent (persistence_timeout); not translated")
		return
	}
	svc.Flags = c.flags(svc.Sched, flags)
	if laddrGroup != nil {
		svc.Laddrs = c.laddrs(laddrGroup)
	}
	for _, q := range []*Directive{quorumUp, quorumDown} {
		if q != nil {
			c.list(q, "fngw runs no script on quorum changes (its notify_up/notify_down are the real servers')")
		}
	}
	c.realServers(vs, realServers)
	if slices.ContainsFunc(svc.Dests, func(x Dest) bool { return x.Fwd == "fullnat" }) && len(svc.Laddrs) == 0 {
		svc.NeedLaddrs = true
		c.items = append(c.items, Item{Pos: d.Pos, What: text(d), Reason: "FULLNAT needs local addresses, which keepalived does not have (DPVS's laddr_group_name): fill in laddrs"})
	}
	svc.Alpha = vs.h.alpha.d != nil && vs.h.alpha.v
	key := svc.Proto + " " + svc.VIP
	if prev, dup := c.seen[key]; dup {
		c.list(d, fmt.Sprintf("the same service as the virtual_server at %s; not translated twice", prev))
		return
	}
	c.seen[key] = d.Pos
	c.services = append(c.services, svc)
}

// method translates lb_kind/lvs_method.
func (c *converter) method(d *Directive) (string, bool) {
	if len(d.Args) < 1 {
		c.list(d, "a forwarding method is missing: NAT, DR, TUN or FNAT")
		return "", false
	}
	var f string
	switch d.Args[0] {
	case "NAT":
		f = "masq"
	case "DR":
		f = "route"
	case "TUN":
		f = "tunnel"
	case "FNAT":
		f = "fullnat"
	default:
		c.list(d, fmt.Sprintf("forwarding method %q: fngw has NAT, DR, TUN and FNAT (keepalived's spelling, upper case)", d.Args[0]))
		return "", false
	}
	if len(d.Args) > 1 && !(f == "tunnel" && len(d.Args) == 3 && d.Args[1] == "type" && d.Args[2] == "ipip") {
		c.list(d, "fngw tunnels are IPIP without options; the method is translated, its options are not")
	}
	return f, true
}

// flags translates scheduler flags; flag-1 and flag-2 are sh-fallback and
// sh-port for sh, mh-fallback and mh-port for mh (IP_VS_SVC_F_SCHED1/2).
func (c *converter) flags(sched string, ds []*Directive) []string {
	var out []string
	for _, d := range ds {
		name := d.Name
		switch name {
		case "flag-1", "flag-2":
			if sched != "sh" && sched != "mh" {
				c.list(d, fmt.Sprintf("%s means nothing to scheduler %s", name, sched))
				continue
			}
			name = sched + map[string]string{"flag-1": "-fallback", "flag-2": "-port"}[name]
		case "flag-3":
			c.list(d, whyNoEquiv)
			continue
		}
		if _, err := ctl.NormalizeFlags(sched, []string{name}); err != nil {
			c.list(d, err.Error())
			continue
		}
		out = append(out, name)
	}
	out, _ = ctl.NormalizeFlags(sched, out)
	return out
}

// laddrs translates DPVS's local_address_group: "ADDR[-LAST] [DEV]" lines.
func (c *converter) laddrs(ref *Directive) []string {
	g, ok := c.laddrGroups[ref.Args[0]]
	if !ok {
		c.list(ref, fmt.Sprintf("no local_address_group %q", ref.Args[0]))
		return nil
	}
	c.used[ref.Args[0]] = true
	var out []string
	for _, e := range g.Block {
		addrs, err := addrRange(e.Name)
		if err == nil && len(e.Args) > 1 {
			err = fmt.Errorf("want ADDR[-LAST] [DEV]")
		}
		if err != nil {
			c.list(e, err.Error())
			continue
		}
		for _, a := range addrs {
			if len(e.Args) == 1 {
				out = append(out, a.String()+" dev "+e.Args[0])
			} else {
				out = append(out, a.String())
			}
		}
	}
	return out
}

// addrRange parses "198.18.2.100" or DPVS's "198.18.2.100-110".
func addrRange(s string) ([]netip.Addr, error) {
	first, last, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(first)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("%q is not an IPv4 address or range (198.18.2.100-110)", s)
	}
	if !isRange {
		return []netip.Addr{a}, nil
	}
	n, err := strconv.Atoi(last)
	b4 := a.As4()
	if err != nil || n < int(b4[3]) || n > 255 || n-int(b4[3]) >= maxLaddrRange {
		return nil, fmt.Errorf("%q: the range's last byte must be from %d to 255", s, b4[3])
	}
	var out []netip.Addr
	for i := int(b4[3]); i <= n; i++ {
		b4[3] = byte(i)
		out = append(out, netip.AddrFrom4(b4))
	}
	return out, nil
}

// server parses "ADDR [PORT]" of a real or sorry server; the port defaults
// to the service's.
func (c *converter) server(d *Directive, svcPort uint16) (string, bool) {
	a, err := netip.ParseAddr(d.Args[0])
	if err != nil {
		c.list(d, fmt.Sprintf("%q is not an IP address", d.Args[0]))
		return "", false
	}
	if err := ctl.Served(a); err != nil {
		c.list(d, err.Error())
		return "", false
	}
	port := svcPort
	if len(d.Args) == 2 {
		p, err := strconv.ParseUint(d.Args[1], 10, 16)
		if err != nil {
			c.list(d, fmt.Sprintf("port %q is not a number 0-65535", d.Args[1]))
			return "", false
		}
		port = uint16(p)
	}
	return netip.AddrPortFrom(a, port).String(), true
}

// rsResult is what of a real server decides service-level keys: its
// notify scripts.
type rsResult struct {
	notifyUp, notifyDown *Directive
}

func (c *converter) realServers(vs *vsCtx, rss []*Directive) {
	var results []rsResult
	for _, d := range rss {
		if !c.args(d, 1, 2) {
			continue
		}
		addr, ok := c.server(d, vs.port)
		if !ok {
			continue
		}
		ap := netip.MustParseAddrPort(addr)
		if slices.ContainsFunc(vs.svc.Dests, func(x Dest) bool { return x.Addr == addr }) {
			c.list(d, "the same real server twice; not translated twice")
			continue
		}
		dest := Dest{Pos: d.Pos, Addr: addr, Fwd: vs.fwd, Weight: 1}
		var h inherited
		var r rsResult
		var checkers []*Directive
		for _, o := range d.Block {
			if c.common(o, &h) {
				continue
			}
			switch o.Name {
			case "weight":
				if v, ok := c.uint(o, 0, ctl.MaxWeight); ok {
					dest.Weight = v
				}
			case "lvs_method", "lb_kind":
				if f, ok := c.method(o); ok {
					dest.Fwd = f
				}
			case "uthreshold":
				if v, ok := c.uint(o, 0, ctl.MaxThreshold); ok {
					dest.UThreshold = v
				}
			case "lthreshold":
				if v, ok := c.uint(o, 0, ctl.MaxThreshold); ok {
					dest.LThreshold = v
				}
			case "notify_up":
				r.notifyUp = o
			case "notify_down":
				r.notifyDown = o
			case "HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK":
				checkers = append(checkers, o)
			case "SMTP_CHECK", "PING_CHECK", "BFD_CHECK", "FILE_CHECK":
				c.list(o, "fngw has tcp, http, https, udp, dns and misc checks; use a MISC_CHECK script for this one")
			case "virtualhost":
				c.list(o, "the HTTP check's Host header: "+whyNoEquiv)
			case "smtp_alert", "snmp_name":
				c.list(o, whyNoEquiv)
			default:
				c.list(o, "unknown keyword in real_server")
			}
		}
		if dest.LThreshold > dest.UThreshold {
			c.list(d, fmt.Sprintf("lthreshold %d is above uthreshold %d; thresholds left out", dest.LThreshold, dest.UThreshold))
			dest.UThreshold, dest.LThreshold = 0, 0
		}
		rsPort := ap.Port()
		if (dest.Fwd == "route" || dest.Fwd == "tunnel") && rsPort != vs.port {
			// LVS sends DR and TUN traffic to the service's port whatever
			// the real server's says; keepalived's checkers use the latter.
			dest.Addr = netip.AddrPortFrom(ap.Addr(), vs.port).String()
		}
		h = h.or(vs.h)
		for i, ck := range checkers {
			if i > 0 {
				c.list(ck, whyOneCheck)
				continue
			}
			dest.Check = c.checker(ck, h, ap, vs)
			if dest.Check != nil && dest.Check.Port == 0 && dest.Addr != addr {
				dest.Check.Port = int(rsPort)
			}
		}
		vs.svc.Dests = append(vs.svc.Dests, dest)
		results = append(results, r)
	}
	c.hoist(vs.svc)
	c.notify(vs.svc, results)
}

// hoist moves the real servers' check to the service when they all have
// the same one.
func (c *converter) hoist(svc *Service) {
	if len(svc.Dests) == 0 || svc.Dests[0].Check == nil {
		return
	}
	for _, d := range svc.Dests[1:] {
		if !d.Check.equal(svc.Dests[0].Check) {
			return
		}
	}
	svc.Check = svc.Dests[0].Check
	for i := range svc.Dests {
		svc.Dests[i].Check = nil
	}
}

// notify sets the service's notify_up/notify_down from the real servers'
// when they all run the same script; otherwise each is listed.
func (c *converter) notify(svc *Service, rs []rsResult) {
	for _, which := range []struct {
		get func(rsResult) *Directive
		dst *string
	}{{func(r rsResult) *Directive { return r.notifyUp }, &svc.NotifyUp}, {func(r rsResult) *Directive { return r.notifyDown }, &svc.NotifyDown}} {
		var scripts []string
		for _, r := range rs {
			d := which.get(r)
			s := ""
			if d != nil {
				s = c.script(d)
			}
			scripts = append(scripts, s)
		}
		if len(scripts) == 0 || scripts[0] == "" && slices.Max(scripts) == "" {
			continue
		}
		same := true
		for _, s := range scripts {
			same = same && s == scripts[0]
		}
		if same {
			*which.dst = scripts[0]
			continue
		}
		for _, r := range rs {
			if d := which.get(r); d != nil {
				c.list(d, "the real servers' scripts differ; fngw has one "+d.Name+" per service")
			}
		}
	}
}

// script is a notify script: one word (quote it to give arguments), then
// an optional user and group, which are listed.
func (c *converter) script(d *Directive) string {
	if len(d.Args) == 0 {
		c.list(d, "the script is missing")
		return ""
	}
	if len(d.Args) > 1 {
		c.list(d, fmt.Sprintf("runs as user %q: fngw runs scripts as its own user; the script is translated (quote a script with arguments)", d.Args[1]))
	}
	return d.Args[0]
}

// checker translates one checker block of a real server.
func (c *converter) checker(d *Directive, h inherited, rs netip.AddrPort, vs *vsCtx) *Check {
	ck := &Check{Rise: 1}
	retry := defaultRetry
	switch d.Name {
	case "TCP_CHECK":
		ck.Type = "tcp"
	case "HTTP_GET":
		ck.Type = "http"
	case "SSL_GET":
		ck.Type = "https"
	case "UDP_CHECK":
		ck.Type = "udp"
	case "DNS_CHECK":
		ck.Type, ck.QType, ck.Name = "dns", defaultDNSType, defaultDNSName
		retry = defaultDNSRetry
	case "MISC_CHECK":
		ck.Type = "misc"
		retry = defaultMiscRetry
	}
	var own inherited
	var miscTimeout opt[time.Duration]
	urls := 0
	for _, o := range d.Block {
		// inhibit_on_failure is the real server's; MISC_CHECK makes no
		// connection (misc_timeout is its timeout).
		if o.Name != "inhibit_on_failure" && !(ck.Type == "misc" && o.Name == "connect_timeout") && c.common(o, &own) {
			continue
		}
		switch {
		case o.Name == "connect_ip" && ck.Type != "misc":
			if c.args(o, 1, 1) {
				if a, err := netip.ParseAddr(o.Args[0]); err != nil || a != rs.Addr() {
					c.list(o, "fngw checks the real server's own address")
				}
			}
		case o.Name == "connect_port" && ck.Type != "misc":
			if v, ok := c.uint(o, 1, 65535); ok {
				ck.Port = v
			}
		case o.Name == "bindto" && ck.Type != "misc":
			if c.args(o, 1, 1) {
				if a, err := netip.ParseAddr(o.Args[0]); err != nil || !a.Is4() {
					c.list(o, fmt.Sprintf("%q is not an IPv4 address", o.Args[0]))
				} else {
					ck.Source = a.String()
				}
			}
		case slices.Contains([]string{"bind_port", "bind_if", "fwmark", "log_all_failures"}, o.Name):
			c.list(o, whyNoEquiv)
		case o.Name == "url" && (ck.Type == "http" || ck.Type == "https"):
			urls++
			if urls > 1 {
				c.list(o, "fngw's HTTP check requests one path; this url is not checked")
				continue
			}
			c.url(o, ck)
		case slices.Contains([]string{"virtualhost", "http_protocol", "enable_sni", "fast_recovery"}, o.Name) && (ck.Type == "http" || ck.Type == "https"):
			c.list(o, whyNoEquiv)
		case o.Name == "type" && ck.Type == "dns":
			if c.args(o, 1, 1) {
				t := strings.ToUpper(o.Args[0])
				if !slices.Contains([]string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"}, t) {
					c.list(o, "DNS_CHECK types are A, NS, CNAME, SOA, MX, TXT and AAAA")
				} else {
					ck.QType = t
				}
			}
		case o.Name == "name" && ck.Type == "dns":
			if c.args(o, 1, 1) {
				ck.Name = o.Args[0]
			}
		case o.Name == "payload" && ck.Type == "udp":
			if b, err := hexString(o.Raw, false); err != nil {
				c.list(o, err.Error())
			} else {
				ck.Payload = b
			}
		case o.Name == "require_reply" && ck.Type == "udp":
			switch b, err := hexString(o.Raw, true); {
			case err != nil:
				c.list(o, err.Error())
			case b == "":
				c.list(o, "a reply of any content: fngw's udp check compares the reply with expect; set it to the reply's first bytes")
			default:
				ck.Expect = b
			}
		case slices.Contains([]string{"min_reply_length", "max_reply_length"}, o.Name) && ck.Type == "udp":
			c.list(o, whyNoEquiv)
		case o.Name == "misc_path" && ck.Type == "misc":
			ck.Command = command(o)
		case o.Name == "misc_timeout" && ck.Type == "misc":
			if v, ok := c.timer(o, time.Second); ok {
				miscTimeout = opt[time.Duration]{v, o}
			}
		case slices.Contains([]string{"misc_dynamic", "user"}, o.Name) && ck.Type == "misc":
			c.list(o, whyNoEquiv)
		default:
			c.list(o, "unknown keyword in "+d.Name)
		}
	}
	h = own.or(h)
	if (ck.Type == "http" || ck.Type == "https") && urls == 0 {
		c.list(d, "an HTTP check needs a url; keepalived ignores this checker too")
		return nil
	}
	if ck.Type == "misc" && ck.Command == "" {
		c.list(d, "a MISC_CHECK needs misc_path")
		return nil
	}
	ck.Interval = defaultDelayLoop
	if h.delayLoop.d != nil {
		ck.Interval = h.delayLoop.v
	}
	ck.Timeout = defaultConnectTimeout
	if ck.Type == "misc" {
		ck.Timeout = ck.Interval // misc_timeout defaults to delay_loop
		if miscTimeout.d != nil {
			ck.Timeout = miscTimeout.v
		}
	} else if h.connectTimeout.d != nil {
		ck.Timeout = h.connectTimeout.v
	}
	if h.retry.d != nil {
		retry = h.retry.v
	}
	ck.Fall = retry + 1
	ck.OnFailure = "remove"
	if h.inhibit.d != nil && h.inhibit.v {
		ck.OnFailure = "inhibit"
	}
	if o := h.delayBeforeRetry; o.d != nil && o.v != ck.Interval && retry > 0 {
		c.list(o.d, fmt.Sprintf("fngw checks every interval (%s), also after a failure", duration(ck.Interval)))
	}
	if o := h.warmup; o.d != nil {
		c.list(o.d, "fngw spreads the first checks itself; no setting")
	}
	if o := h.alpha; o.d != nil && o.v != (vs.h.alpha.d != nil && vs.h.alpha.v) {
		c.list(o.d, "alpha is per service in fngw (the virtual_server's is translated)")
	}
	return ck
}

// url translates an HTTP_GET/SSL_GET url block.
func (c *converter) url(d *Directive, ck *Check) {
	for _, o := range d.Block {
		switch o.Name {
		case "path":
			if c.args(o, 1, 1) {
				ck.Path = o.Args[0]
			}
		case "digest":
			if c.args(o, 1, 1) {
				s := strings.ToLower(o.Args[0])
				if len(s) != 32 || strings.Trim(s, "0123456789abcdef") != "" {
					c.list(o, fmt.Sprintf("%q is not an MD5 digest (32 hex digits, as genhash prints)", o.Args[0]))
				} else {
					ck.Digest = s
				}
			}
		case "status_code":
			codes, err := statusCodes(o.Args)
			if err != nil {
				c.list(o, err.Error())
			} else {
				ck.ExpectStatus = codes
			}
		case "regex":
			w := escapedWords(o.Raw)
			if len(w) != 1 {
				c.list(o, "want one regular expression (quote it)")
			} else if _, err := regexp.Compile(w[0]); err != nil {
				c.list(o, fmt.Sprintf("fngw's regular expressions are Go's (RE2), not PCRE: %v", err))
			} else {
				ck.ExpectBodyRegex = w[0]
			}
		case "virtualhost", "regex_no_match", "regex_options", "regex_min_offset", "regex_max_offset", "regex_stack":
			c.list(o, whyNoEquiv)
		default:
			c.list(o, "unknown keyword in url")
		}
	}
	if ck.Path == "" {
		c.list(d, "a url needs a path")
	}
}

// statusCodes expands "200 301-302": keepalived accepts codes 100-599 and
// ranges.
func statusCodes(args []string) ([]int, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("status codes are missing")
	}
	var out []int
	for _, a := range args {
		lo, hi, isRange := strings.Cut(a, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := l, error(nil)
		if isRange {
			h, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return nil, fmt.Errorf("%q is not a status code or range from 100 to 599", a)
		}
		for i := l; i <= h; i++ {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// hexString reads keepalived's free-format HEX_STR ("Ab12f 3 456" is AB 12
// 0F 03 45 06: pairs of digits, a lone last digit of a group a byte of its
// own) as lower-case hex digits; wild ('X') digits of require_reply are
// refused (fngw compares every byte).
func hexString(s string, wildOK bool) (string, error) {
	var b strings.Builder
	for _, g := range strings.Fields(s) {
		for i := 0; i < len(g); i += 2 {
			pair := g[i:min(i+2, len(g))]
			if len(pair) == 1 {
				pair = "0" + pair
			}
			pair = strings.ToLower(pair)
			if strings.ContainsRune(pair, 'x') && wildOK {
				return "", fmt.Errorf("%q: fngw compares every byte of the reply; wild digits (X) are not supported", s)
			}
			if _, err := strconv.ParseUint(pair, 16, 8); err != nil {
				return "", fmt.Errorf("%q is not hex (keepalived's HEX_STR)", s)
			}
			b.WriteString(pair)
		}
	}
	return b.String(), nil
}

// command is a misc_path: one quoted word (the command line), else the
// words joined.
func command(d *Directive) string {
	return strings.Join(d.Args, " ")
}

// escapedWords splits as keepalived's alloc_strvec_quoted_escaped (regex,
// scripts): double and single quotes quote, a backslash escapes (\n, \t,
// \xHH, \NNN, \cC, \C).
func escapedWords(s string) []string {
	var out []string
	var w strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			i++
			w.WriteString(unescape(s, &i))
			inWord = true
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(ch)
		case ch == '"' || ch == '\'':
			quote = ch
			inWord = true
		case isBlank(ch):
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}

// unescape reads the escape at s[*i] (the character after the backslash),
// leaving *i on its last character.
func unescape(s string, i *int) string {
	switch ch := s[*i]; {
	case ch == 'x' && *i+1 < len(s) && isHex(s[*i+1]):
		v := 0
		for *i+1 < len(s) && isHex(s[*i+1]) {
			*i++
			d, _ := strconv.ParseUint(s[*i:*i+1], 16, 8)
			v = (v<<4 | int(d)) & 0xff
		}
		return string([]byte{byte(v)})
	case ch >= '0' && ch <= '7':
		v := int(ch - '0')
		for n := 0; n < 2 && *i+1 < len(s) && s[*i+1] >= '0' && s[*i+1] <= '7'; n++ {
			*i++
			v = v<<3 + int(s[*i]-'0')
		}
		return string([]byte{byte(v)})
	case ch == 'c' && *i+1 < len(s):
		*i++
		return string([]byte{s[*i] & 0x1f})
	default:
		if r, ok := map[byte]string{'a': "\a", 'b': "\b", 'E': "\x1b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}[ch]; ok {
			return r
		}
		return string([]byte{ch})
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// args lists d unless it has from min to max arguments.
func (c *converter) args(d *Directive, lo, hi int) bool {
	if len(d.Args) < lo || len(d.Args) > hi {
		want := fmt.Sprintf("%d", lo)
		if hi != lo {
			want = fmt.Sprintf("%d to %d", lo, hi)
		}
		c.list(d, fmt.Sprintf("want %s argument(s), not %d", want, len(d.Args)))
		return false
	}
	return true
}

func (c *converter) uint(d *Directive, lo, hi int) (int, bool) {
	if !c.args(d, 1, 1) {
		return 0, false
	}
	v, err := strconv.Atoi(d.Args[0])
	if err != nil || v < lo || v > hi {
		c.list(d, fmt.Sprintf("%q is not a number from %d to %d", d.Args[0], lo, hi))
		return 0, false
	}
	return v, true
}

// timer reads keepalived's TIMER (seconds, fractions allowed, micro-second
// resolution), at least lo.
func (c *converter) timer(d *Directive, lo time.Duration) (time.Duration, bool) {
	if !c.args(d, 1, 1) {
		return 0, false
	}
	f, err := strconv.ParseFloat(d.Args[0], 64)
	v := time.Duration(f * float64(time.Second)).Round(time.Microsecond)
	if err != nil || math.IsNaN(f) || f < 0 || f > float64(math.MaxInt32) || v < lo {
		c.list(d, fmt.Sprintf("%q is not a time in seconds of at least %s", d.Args[0], duration(lo)))
		return 0, false
	}
	return v, true
}

// boolean reads keepalived's optional <BOOL> (a bare keyword is true).
func (c *converter) boolean(d *Directive) (bool, bool) {
	if len(d.Args) == 0 {
		return true, true
	}
	switch d.Args[0] {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	c.list(d, fmt.Sprintf("%q is not one of on, off, true, false, yes, no", d.Args[0]))
	return false, false
}

// duration writes d as fngw's durations: whole seconds as "2s", else
// milliseconds or microseconds.
func duration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprintf("%dus", d/time.Microsecond)
}
