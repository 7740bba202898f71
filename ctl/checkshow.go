package ctl

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"
)

// OpCheckShow is `gw check show [--json]`: every destination's check and
// health.
const OpCheckShow Op = "check-show"

// The states `gw check show` reports.
const (
	StateUp       = "up"
	StateDown     = "down"
	StateDisabled = "disabled" // not checked (always up), or a sorry server not serving
)

// CheckStatus is one destination's health check and health, as `gw check
// show` lists it.
type CheckStatus struct {
	// Service is the service as -L --json names it (proto, vip, port,
	// sched).
	Service Service `json:"service"`
	Dest    DestKey `json:"destination"` // ipvsadm -c's word, "198.18.2.11:80"
	// Sorry marks the service's sorry server (up while it serves).
	Sorry bool `json:"sorry_server,omitempty"`
	// Check is the check's short form ("http GET /healthz every 1s"), ""
	// when the destination is not checked; Target where it goes.
	Check     string         `json:"check,omitempty"`
	Target    netip.AddrPort `json:"target,omitzero"`
	OnFailure OnFailure      `json:"on_failure,omitempty"`
	State     string         `json:"state"`
	// Since is when the state began (the last transition, or the start of
	// the checks).
	Since       time.Time `json:"since,omitzero"`
	Transitions uint64    `json:"transitions"`
	Checks      uint64    `json:"checks"`
	// Last is when the latest check started, Reason its outcome ("ok",
	// "status 503", "timeout after 1s"), Latency how long it took.
	Last    time.Time     `json:"last,omitzero"`
	Reason  string        `json:"reason,omitempty"`
	Latency time.Duration `json:"latency_ns,omitempty"`
	// Weight is the configured weight, EffectiveWeight what the scheduler
	// uses.
	Weight          int `json:"weight"`
	EffectiveWeight int `json:"effective_weight"`
}

// DestKey's JSON is its text form, "198.18.2.11:80".
func (k DestKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *DestKey) UnmarshalText(b []byte) error {
	ap, err := netip.ParseAddrPort(string(b))
	if err != nil {
		return invalidf("%q is not ADDR:PORT", b)
	}
	*k = DestKey{ap.Addr(), ap.Port()}
	return nil
}

// WriteChecks prints `gw check show`: one line per destination, ages
// counted to now; or JSON.
func WriteChecks(w io.Writer, list []CheckStatus, now time.Time, asJSON bool) error {
	if asJSON {
		if list == nil {
			list = []CheckStatus{}
		}
		return writeJSON(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tDESTINATION\tSTATE\tWEIGHT\tSINCE\tTRANS\tCHECK\tLAST RESULT")
	for _, c := range list {
		dest := c.Dest.String()
		if c.Sorry {
			dest += " (sorry)"
		}
		since := "-"
		if !c.Since.IsZero() {
			since = age(now.Sub(c.Since)) + " ago"
		}
		check, last := c.Check, "-"
		if check == "" {
			check = "-"
		}
		if c.Reason != "" {
			last = fmt.Sprintf("%s (%s, %s ago)", c.Reason, latency(c.Latency), age(now.Sub(c.Last)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%d\t%s\t%s\n", c.Service.Key(), dest, c.State, c.EffectiveWeight, c.Weight, since, c.Transitions, check, last)
	}
	return tw.Flush()
}

// age is a duration rounded for a person: "3s", "2m5s", "4h0m".
func age(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// latency rounds a check's latency: "1.2ms", "250µs", "1s".
func latency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
