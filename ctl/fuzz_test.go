package ctl

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseArgs: the parser never panics, and whatever it accepts renders
// (Args) to arguments that parse back to the same command.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"-A -t 198.18.1.100:80 -s rr -p 300 -M 255.255.255.0", "-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -m -w 3 -x 10 -y 5",
		"-Lnc", "--set 1 2 3", "-A -t [2001:db8::1]:80 -s sh -b sh-port", "-P -t 1.2.3.4:80 -z 1.1.1.1 -F dpdk0", "-Ln --stats --exact", "-p", "--", "-At1.2.3.4:0 -p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, " ")
		cmd, err := ParseArgs(args)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		again, err := ParseArgs(cmd.Args())
		if err != nil {
			t.Fatalf("%q parsed to %q which does not parse: %v", s, cmd.Args(), err)
		}
		if !reflect.DeepEqual(again, cmd) {
			t.Fatalf("%q: %s then %s", s, dump(cmd), dump(again))
		}
	})
}

// FuzzReadRestore: the reader never panics; what it accepts and applies
// saves to text that restores to the same config.
func FuzzReadRestore(f *testing.F) {
	f.Add(ipvsadmSave)
	f.Add("-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r 10.0.0.1 -m\n# x\n")
	f.Add("ipvsadm -C\n--set 0 0 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		cmds, err := ReadRestore(strings.NewReader(s))
		if err != nil {
			return
		}
		c := NewConfig()
		if err := c.ApplyBatch(cmds); err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteSave(&b, c); err != nil {
			t.Fatal(err)
		}
		d := NewConfig()
		cmds, err = ReadRestore(&b)
		if err != nil {
			t.Fatalf("own save does not read: %v\n%s", err, b.String())
		}
		if err := d.ApplyBatch(cmds); err != nil || !d.Equal(c) {
			t.Fatalf("own save does not restore: %v", err)
		}
	})
}

// FuzzParseText: the canonical-form parsers never panic and what they
// accept prints to a form they accept again unchanged.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{"tcp 198.18.1.1:80 sh (sh-port) persistent 30 mask 255.255.0.0", "10.0.0.1:80 masq weight 3 u-threshold 9 l-threshold 1",
		"198.18.1.1/24 dev dpdk0", "0.0.0.0/0 via 1.2.3.4 dev d", "1.2.3.4 lladdr 02:00:00:00:00:01 dev d", "1.2.3.4:80/udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseService(s); err == nil {
			if w, err := ParseService(v.String()); err != nil || !w.Equal(v) {
				t.Fatalf("service %q -> %q: %v", s, v, err)
			}
		}
		if v, err := ParseDest(s); err == nil {
			if w, err := ParseDest(v.String()); err != nil || w != v {
				t.Fatalf("dest %q -> %q: %v", s, v, err)
			}
		}
		if v, err := ParseServiceKey(s); err == nil {
			if w, err := ParseServiceKey(v.String()); err != nil || w != v {
				t.Fatalf("key %q -> %q: %v", s, v, err)
			}
		}
		if v, err := ParseRoute(s); err == nil {
			if w, err := ParseRoute(v.String()); err != nil || w != v {
				t.Fatalf("route %q -> %q: %v", s, v, err)
			}
		}
		if v, err := ParseAddr(s); err == nil {
			if w, err := ParseAddr(v.String()); err != nil || w != v {
				t.Fatalf("addr %q -> %q: %v", s, v, err)
			}
		}
		if v, err := ParseNeigh(s); err == nil {
			if w, err := ParseNeigh(v.String()); err != nil || w != v {
				t.Fatalf("neigh %q -> %q: %v", s, v, err)
			}
		}
		_, _ = ParseStackArgs(strings.Fields(s))
	})
}
