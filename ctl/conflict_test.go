package ctl

import (
	"strings"
	"testing"
)

// TestConflictsRefused: each pair of objects that can only be a mistake is
// refused with both named, and a configuration without them passes.
func TestConflictsRefused(t *testing.T) {
	base := []string{"addr add 198.18.1.1/24 dev dpdk0", "addr add 198.18.2.1/24 dev dpdk1",
		"-A -t 198.18.1.100:80 -s rr", "-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat",
		"-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1"}
	if err := config(t, base...).CheckConflicts(); err != nil {
		t.Fatalf("a sound configuration: %v", err)
	}
	for _, c := range []struct {
		name string
		add  []string
		want []string
	}{
		{"local address is a real server", []string{"-a -t 198.18.1.100:80 -r 198.18.2.100:80 --fullnat"},
			[]string{"real server 198.18.2.100:80", "local address 198.18.2.100", "answer ARP"}},
		{"local address outside its port's subnets", []string{"-P -t 198.18.1.100:80 -z 198.18.9.100 -F dpdk1"},
			[]string{"local address 198.18.9.100", "no subnet of port dpdk1"}},
		{"local address on the other port's subnet", []string{"-P -t 198.18.1.100:80 -z 198.18.1.200 -F dpdk1"},
			[]string{"local address 198.18.1.200", "port dpdk1"}},
		{"VIP is an interface address", []string{"-A -t 198.18.1.1:81 -s rr"},
			[]string{"service 198.18.1.1:81/tcp", "interface address 198.18.1.1/24 dev dpdk0"}},
		{"real server is a VIP", []string{"-A -t 198.18.2.50:80 -s rr", "-a -t 198.18.1.100:80 -r 198.18.2.50:80 --fullnat"},
			[]string{"real server 198.18.2.50:80", "VIP of service 198.18.2.50:80/tcp"}},
		{"interface address is a local address", []string{"addr add 198.18.2.100/24 dev dpdk1"},
			[]string{"local address 198.18.2.100", "interface address 198.18.2.100/24 dev dpdk1"}},
		{"interface address is a VIP", []string{"addr add 198.18.1.100/24 dev dpdk0"},
			[]string{"service 198.18.1.100:80/tcp", "interface address 198.18.1.100/24"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := config(t, append(append([]string(nil), base...), c.add...)...).CheckConflicts()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: want %q in it", err, w)
				}
			}
		})
	}
}
