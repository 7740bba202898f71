package config

import (
	"strings"
	"testing"

	"fngw/ctl"
)

// TestSynRecvTimeout: [session] tcp_syn_recv_timeout defaults to LVS's 60 s,
// takes whole seconds and refuses values out of range with the key's line.
func TestSynRecvTimeout(t *testing.T) {
	f, err := Parse("gw.toml", []byte(brief))
	if err != nil {
		t.Fatal(err)
	}
	if f.LB.Timeouts.SynRecv != ctl.DefaultTimeouts.SynRecv || ctl.DefaultTimeouts.SynRecv != 60 {
		t.Errorf("default %d, want LVS's 60", f.LB.Timeouts.SynRecv)
	}
	f, err = Parse("gw.toml", []byte(brief+"[session]\ntcp_syn_recv_timeout = 5\n"))
	if err != nil || f.LB.Timeouts.SynRecv != 5 {
		t.Fatalf("tcp_syn_recv_timeout = 5: %v, %+v", err, f.LB.Timeouts)
	}
	for _, v := range []string{"0", "-1", "1000000000"} {
		_, err := Parse("gw.toml", []byte(brief+"[session]\ntcp_syn_recv_timeout = "+v+"\n"))
		if err == nil || !strings.Contains(err.Error(), "session.tcp_syn_recv_timeout") {
			t.Errorf("tcp_syn_recv_timeout = %s: %v, want an error naming the key", v, err)
		}
	}
}
