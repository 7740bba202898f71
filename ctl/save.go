package ctl

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteSave writes c as ipvsadm -S does: one "-A" line per service (in
// listing order) followed by its "-a" lines, each readable by ReadRestore
// and by ipvsadm -R. Unlike ipvsadm the save is lossless: destination
// thresholds (-x/-y, which ipvsadm -S drops), FULLNAT destinations
// (--fullnat), local addresses (-P ... -z LIP -F PORT, after the service's
// destinations) and non-default timeouts (a first "--set" line) are saved
// too. Addresses are always numeric, so -S and -S -n print the same.
func WriteSave(w io.Writer, c *Config) error {
	var b strings.Builder
	if t := c.Timeouts.ipvsadm(); t != DefaultTimeouts.ipvsadm() {
		b.WriteString(Command{Op: OpSetTimeouts, Timeouts: &t}.String() + "\n")
	}
	for _, vs := range c.Services {
		s := vs.Service
		key := &Service{Proto: s.Proto, VIP: s.VIP, Port: s.Port, FwMark: s.FwMark}
		b.WriteString(Command{Op: OpAddService, Service: &s}.String() + "\n")
		for _, d := range vs.Dests {
			b.WriteString(Command{Op: OpAddDest, Service: key, Dest: &d}.String() + "\n")
		}
		for _, l := range vs.Laddrs {
			b.WriteString(Command{Op: OpAddLaddr, Service: key, Laddr: &l}.String() + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RestoreError is an error at one line of a restore file.
type RestoreError struct {
	Line int
	Err  error
}

func (e *RestoreError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *RestoreError) Unwrap() error { return e.Err }

// MaxRestoreLine bounds the length of one restore line.
const MaxRestoreLine = 64 << 10

// ReadRestore reads an ipvsadm -R file (ipvsadm -S -n or ipvsadm-save -n
// output, or fngw's own save) into commands for Config.ApplyBatch, each with
// its line number; ReadRestoreWith also reads the names in ipvsadm -S
// output without -n. Blank lines and comments (from '#' to the end of the
// line) are ignored, and a leading "ipvsadm" word is dropped, like
// ipvsadm's config_stream_read. Only commands that change the configuration
// are accepted (-A -E -D -C -a -e -d --set --add-laddr --del-laddr). The
// first error stops reading and names its line; nothing has been applied.
func ReadRestore(r io.Reader) ([]Command, error) { return ReadRestoreWith(r, nil) }

// ReadRestoreWith is ReadRestore with names resolving host and service names
// (ParseArgsWith): plain ipvsadm-save output ("-A -t lb.example.com:http").
func ReadRestoreWith(r io.Reader, names Resolver) ([]Command, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), MaxRestoreLine)
	var cmds []Command
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "ipvsadm" {
			f = f[1:]
		} else if len(f) > 1 && f[0] == "gw" && f[1] == "adm" {
			f = f[2:]
		}
		if len(f) == 0 {
			continue
		}
		cmd, err := ParseArgsWith(f, names)
		if err != nil {
			return nil, &RestoreError{n, err}
		}
		if !cmd.Op.Mutates() || cmd.Op == OpRestore || cmd.Addr != nil || cmd.Route != nil || cmd.Neigh != nil {
			return nil, &RestoreError{n, usagef("%s (%s) is not allowed in a restore file; use -A -E -D -C -a -e -d --set --add-laddr --del-laddr", cmd.Op, f[0])}
		}
		cmd.Line = n
		cmds = append(cmds, cmd)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading restore input: %w", err)
	}
	return cmds, nil
}
