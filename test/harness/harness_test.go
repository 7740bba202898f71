package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/gopacket/layers"

	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/test/pkttest"
)

var (
	macA  = MustMAC("02:00:00:00:00:0a")
	macB  = MustMAC("02:00:00:00:00:0b")
	ipA   = netip.MustParseAddr("198.18.1.2")
	ipB   = netip.MustParseAddr("198.18.1.1")
	hosts = Hosts{SrcMAC: macA, DstMAC: macB, Src: ipA, Dst: ipB, ID: 7}
)

// builtFrames is one frame of every kind the builders make.
func builtFrames(payload []byte) map[string][]byte {
	return map[string][]byte{
		"icmp_echo": ICMPEchoRequest(hosts, 0x1234, 9, payload),
		"tcp_syn":   TCPSyn(hosts, 40000, 80, 1000),
		"tcp_ack":   TCPAck(hosts, 40000, 80, 1001, 5001),
		"tcp_fin":   TCPFin(hosts, 40000, 80, 1001, 5001),
		"tcp_data":  TCPData(hosts, 40000, 80, 1001, 5001, payload),
		"udp":       UDP(hosts, 5353, 53, payload),
	}
}

func TestBuildersValid(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte("x"), []byte("odd-length payload!"), bytes.Repeat([]byte{0xff}, 1400)} {
		for name, f := range builtFrames(payload) {
			t.Run(fmt.Sprintf("%s/%d", name, len(payload)), func(t *testing.T) {
				if len(f) < MinFrameLen {
					t.Errorf("frame of %d bytes, want padding to %d", len(f), MinFrameLen)
				}
				if err := Expect(f, EthSrc(macA), EthDst(macB), TTL(64), ValidChecksums()); err != nil {
					t.Error(err)
				}
				proto := map[string]layers.IPProtocol{"icmp": layers.IPProtocolICMPv4, "tcp": layers.IPProtocolTCP, "udp": layers.IPProtocolUDP}[strings.Split(name, "_")[0]]
				if err := Expect(f, IPv4(ipA, ipB, proto)); err != nil {
					t.Error(err)
				}
			})
		}
	}
	t.Run("tcp_flags", func(t *testing.T) {
		for name, want := range map[string]string{"tcp_syn": "S", "tcp_ack": ".", "tcp_fin": "F.", "tcp_data": "P."} {
			tcp := pkttest.Decode(builtFrames(nil)[name]).Layer(layers.LayerTypeTCP).(*layers.TCP)
			if got := tcpFlags(tcp); got != want {
				t.Errorf("%s: flags %q, want %q", name, got, want)
			}
		}
	})
	t.Run("icmp_fields", func(t *testing.T) {
		f := ICMPEchoRequest(hosts, 0x1234, 9, []byte("ping"))
		if err := Expect(f, ICMPEcho(layers.ICMPv4TypeEchoRequest, 0x1234, 9, []byte("ping"))); err != nil {
			t.Error(err)
		}
		err := Expect(f, ICMPEcho(layers.ICMPv4TypeEchoReply, 0x1235, 9, []byte("pong")))
		for _, want := range []string{"ICMP type 8 code 0, want type 0", "id 4660 seq 9, want id 4661", "payload"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("mismatching ICMPEcho check: error %v, want it to mention %q", err, want)
			}
		}
	})
}

func TestARPBuildersAndCheck(t *testing.T) {
	req := ARPRequest(macA, ipA, ipB)
	if err := Expect(req, EthDst(BroadcastMAC), EthSrc(macA),
		ARP(layers.ARPRequest, macA, ipA, MustMAC("00:00:00:00:00:00"), ipB)); err != nil {
		t.Error(err)
	}
	if len(req) != MinFrameLen {
		t.Errorf("ARP request of %d bytes, want %d (padded)", len(req), MinFrameLen)
	}
	rep := ARPReply(macB, ipB, macA, ipA)
	if err := Expect(rep, EthDst(macA), ARP(layers.ARPReply, macB, ipB, macA, ipA)); err != nil {
		t.Error(err)
	}
	err := Expect(rep, ARP(layers.ARPRequest, macA, ipA, macB, ipB))
	for _, want := range []string{"operation 2, want 1", "sender MAC", "sender IP", "target MAC", "target IP"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mismatching ARP check: error %v, want it to mention %q", err, want)
		}
	}
	if Matches(rep, ICMPEcho(0, 0, 0, nil)) {
		t.Error("an ARP reply matched an ICMP check")
	}
}

// TestVerifyChecksumsSingleBitFlips flips every bit of the IPv4 datagram of
// seeded random frames: the verifier must reject each (a one-bit change moves
// a ones-complement sum by ±2^k, never by a multiple of 0xffff).
func TestVerifyChecksumsSingleBitFlips(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		payload := make([]byte, rng.IntN(200))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		for name, f := range builtFrames(payload) {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				if err := VerifyChecksums(f); err != nil {
					t.Fatalf("unmodified frame: %v", err)
				}
				tl := int(binary.BigEndian.Uint16(f[16:]))
				for bit := 14 * 8; bit < (14+tl)*8; bit++ {
					g := append([]byte(nil), f...)
					g[bit/8] ^= 0x80 >> (bit % 8)
					if strings.HasPrefix(name, "udp") && binary.BigEndian.Uint16(g[14+20+6:]) == 0 {
						continue // the flip turned the UDP checksum into "none"
					}
					if VerifyChecksums(g) == nil {
						t.Fatalf("flipping bit %d (byte %d) went unnoticed", bit, bit/8)
					}
				}
			})
		}
	}
}

func TestVerifyChecksumsNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		off   int // byte to flip
		want  string
	}{
		{"ipv4", UDP(hosts, 1, 2, []byte("abc")), 14 + 8, "IPv4 header checksum"},
		{"icmp", ICMPEchoRequest(hosts, 1, 2, []byte("abc")), 14 + 20 + 8, "ICMP checksum"},
		{"tcp", TCPData(hosts, 1, 2, 3, 4, []byte("abc")), 14 + 20 + 20, "TCP checksum"},
		{"udp", UDP(hosts, 1, 2, []byte("abc")), 14 + 20 + 8, "UDP checksum"},
		{"ipv4_helper", CorruptIPv4Checksum(UDP(hosts, 1, 2, nil)), -1, "IPv4 header checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := append([]byte(nil), tc.frame...)
			if tc.off >= 0 {
				f[tc.off] ^= 0x01
			}
			err := VerifyChecksums(f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
	t.Run("udp_zero_checksum", func(t *testing.T) {
		f := UDP(hosts, 1, 2, []byte("abc"))
		f[14+20+6], f[14+20+7] = 0, 0
		if err := VerifyChecksums(f); err != nil {
			t.Errorf("UDP without checksum: %v", err)
		}
	})
	t.Run("not_ipv4", func(t *testing.T) {
		if err := VerifyChecksums(ARPRequest(macA, ipA, ipB)); err != nil {
			t.Errorf("ARP: %v", err)
		}
	})
	t.Run("inconsistent_length", func(t *testing.T) {
		if err := VerifyChecksums(Truncated(UDP(hosts, 1, 2, make([]byte, 100)), 60)); err == nil {
			t.Error("a cut IPv4 datagram passed")
		}
	})
}

func TestFrameModifiers(t *testing.T) {
	f := ICMPEchoRequest(hosts, 1, 2, nil)
	g := WithEtherType(f, 0x88b5)
	if binary.BigEndian.Uint16(g[12:]) != 0x88b5 || !bytes.Equal(g[14:], f[14:]) {
		t.Errorf("WithEtherType: %x", g)
	}
	if tr := Truncated(f, 20); len(tr) != 20 || !bytes.Equal(tr, f[:20]) {
		t.Errorf("Truncated: %x", tr)
	}
	if bytes.Equal(CorruptIPv4Checksum(f), f) || f[24] == 0 && f[25] == 0 {
		t.Error("CorruptIPv4Checksum changed nothing")
	}
}

func TestPcapRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.pcap")
	frames := [][]byte{ARPRequest(macA, ipA, ipB), Truncated(UDP(hosts, 1, 2, nil), 10), UDP(hosts, 1, 2, make([]byte, 1500))}
	if err := WritePcap(p, frames...); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPcap(p)
	if err != nil || !reflect.DeepEqual(got, frames) {
		t.Fatalf("ReadPcap = %d frames, %v; want the %d written", len(got), err, len(frames))
	}
	b, _ := os.ReadFile(p)
	t.Run("cut_record", func(t *testing.T) {
		os.WriteFile(p, b[:len(b)-5], 0o644)
		got, err := ReadPcap(p)
		if !errors.Is(err, ErrPcapIncomplete) || len(got) != 2 {
			t.Errorf("ReadPcap = %d frames, %v; want 2 and ErrPcapIncomplete", len(got), err)
		}
		if got, err := ReadPcapSoFar(p); err != nil || len(got) != 2 {
			t.Errorf("ReadPcapSoFar = %d frames, %v; want 2, nil", len(got), err)
		}
	})
	t.Run("header_only_and_missing", func(t *testing.T) {
		for _, path := range []string{filepath.Join(dir, "missing.pcap"), p} {
			os.WriteFile(p, b[:10], 0o644)
			if got, err := ReadPcapSoFar(path); err != nil || len(got) != 0 {
				t.Errorf("ReadPcapSoFar(%s) = %d frames, %v", path, len(got), err)
			}
		}
	})
	t.Run("nanosecond_big_endian", func(t *testing.T) {
		// What a big-endian libpcap writing nanosecond timestamps produces.
		be := binary.BigEndian
		h := make([]byte, 24)
		be.PutUint32(h, pcapMagicNano)
		be.PutUint16(h[4:], 2)
		be.PutUint16(h[6:], 4)
		be.PutUint32(h[16:], 65535)
		be.PutUint32(h[20:], 1)
		rec := make([]byte, 16)
		be.PutUint32(rec[8:], uint32(len(frames[0])))
		be.PutUint32(rec[12:], uint32(len(frames[0])))
		os.WriteFile(p, append(append(h, rec...), frames[0]...), 0o644)
		got, err := ReadPcap(p)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], frames[0]) {
			t.Errorf("ReadPcap = %x, %v", got, err)
		}
	})
	t.Run("snapped_record_rejected", func(t *testing.T) {
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(c[24+12:], uint32(len(frames[0])+1)) // orig_len > incl_len
		os.WriteFile(p, c, 0o644)
		if _, err := ReadPcap(p); err == nil || errors.Is(err, ErrPcapIncomplete) {
			t.Errorf("ReadPcap of a snapped record: %v", err)
		}
	})
}

// TestConfigTOML parses what Config writes with the gateway's own strict
// loader, so a renamed or misplaced key fails here rather than at start-up.
func TestConfigTOML(t *testing.T) {
	c := Config{FilePrefix: "fngwt-1-2", Socket: "/tmp/x/gw.sock", EALArgs: []string{"--log-level=8"},
		LogLevel: "debug", IdlePolls: 8,
		Ports: []Port{{Name: "dpdk0", Device: "net_pcap0,rx_pcap=/a,tx_pcap=/b", Addrs: []string{"198.18.1.1/24"},
			MAC: "02:00:00:00:00:01"}},
		Routes:  []Route{{Prefix: "0.0.0.0/0", Via: "198.18.1.254", Port: "dpdk0"}, {Prefix: "198.18.9.0/24", Port: "dpdk0"}},
		Neighs:  []Neigh{{Addr: "198.18.1.2", MAC: "02:00:00:00:00:02", Port: "dpdk0"}},
		Session: Session{CapacityPerCore: 4096, TCPTimeout: 600, TCPFinTimeout: 30, UDPTimeout: 60, SynRecvTimeout: 20},
		Pool:    Pool{Mbufs: 65535, CacheSize: 128},
		Services: []Service{
			{Proto: "tcp", VIP: "198.18.1.100:80", Sched: "sh", Flags: []string{"sh-port"}, Persistent: 600, Netmask: "255.255.255.0",
				Laddrs: []LocalAddr{{Addr: "198.18.1.10"}, {Addr: "198.18.1.20", Port: "dpdk0"}},
				Dests: []Dest{
					{Addr: "198.18.9.1:8080", Fwd: "fullnat", Weight: 3, UThreshold: 100, LThreshold: 10},
					{Addr: "198.18.1.21", Fwd: "route", Weight: -1},
					{Addr: "198.18.1.22", Fwd: "tunnel"},
				}},
			{Proto: "udp", VIP: "198.18.1.100:53", Dests: []Dest{{Addr: "198.18.9.3:5353", Fwd: "masq", Weight: 2}}},
		},
	}
	text := c.TOML()
	f, err := config.Parse("harness.toml", []byte(text))
	if err != nil {
		t.Fatalf("the gateway's loader refuses the harness's config: %v\n%s", err, text)
	}
	want := config.EAL{Lcores: []int{0, 1}, LcoresText: "0-1", MemoryMB: 512, FilePrefix: "fngwt-1-2", Args: []string{"--log-level=8"}}
	if !reflect.DeepEqual(f.EAL, want) {
		t.Errorf("EAL %+v, want %+v", f.EAL, want)
	}
	if f.IdleSleepUS != DefaultIdleSleepUS || f.IdlePolls != 8 || f.Log.Level != "debug" {
		t.Errorf("idle_sleep_us %d idle_polls %d log level %q", f.IdleSleepUS, f.IdlePolls, f.Log.Level)
	}
	if len(f.Ports) != 1 || f.Ports[0].Name != "dpdk0" || f.Ports[0].Device != c.Ports[0].Device || f.Ports[0].Queues != 1 ||
		f.Ports[0].MAC.String() != "02:00:00:00:00:01" || fmt.Sprint(f.Ports[0].Addrs) != "[198.18.1.1/24]" {
		t.Errorf("ports %+v", f.Ports)
	}
	if f.Ctl.Socket != c.Socket || f.Ctl.Metrics != "" {
		t.Errorf("ctl %+v, want socket %s and metrics disabled", f.Ctl, c.Socket)
	}
	if fmt.Sprint(f.LB.Routes) != "[0.0.0.0/0 via 198.18.1.254 dev dpdk0 198.18.9.0/24 dev dpdk0]" {
		t.Errorf("routes %v", f.LB.Routes)
	}
	if fmt.Sprint(f.LB.Neighs) != "[198.18.1.2 lladdr 02:00:00:00:00:02 dev dpdk0]" {
		t.Errorf("neighbours %v", f.LB.Neighs)
	}
	if f.Session != (config.Session{CapacityPerCore: 4096}) || f.Pool != (config.Pool{Mbufs: 65535, CacheSize: 128, DataRoom: 2048}) ||
		f.LB.Timeouts != (ctl.Timeouts{TCP: 600, TCPFin: 30, UDP: 60, SynRecv: 20, UDPOneway: 5}) {
		t.Errorf("session %+v pool %+v timeouts %+v", f.Session, f.Pool, f.LB.Timeouts)
	}
	// The services as the gateway would save them: every key written is
	// there (weight 0 written for the negative Weight, 1 for the absent one).
	var save strings.Builder
	if err := ctl.WriteSave(&save, f.LB); err != nil {
		t.Fatal(err)
	}
	wantSave := "--set 600 30 60\n" +
		"-A -t 198.18.1.100:80 -s sh -p 600 -M 255.255.255.0 -b sh-port\n" +
		"-a -t 198.18.1.100:80 -r 198.18.1.21:80 -g -w 0\n" +
		"-a -t 198.18.1.100:80 -r 198.18.1.22:80 -i -w 1 --tun-type ipip\n" +
		"-a -t 198.18.1.100:80 -r 198.18.9.1:8080 --fullnat -w 3 -x 100 -y 10\n" +
		"-P -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0\n" +
		"-P -t 198.18.1.100:80 -z 198.18.1.20 -F dpdk0\n" +
		"-A -u 198.18.1.100:53 -s wlc\n" +
		"-a -u 198.18.1.100:53 -r 198.18.9.3:5353 -m -w 2\n"
	if save.String() != wantSave {
		t.Errorf("services saved as\n%s\nwant\n%s", save.String(), wantSave)
	}

	t.Run("defaults", func(t *testing.T) {
		c := Config{FilePrefix: "p", Socket: "/s", IdleSleepUS: -1, Session: Session{CapacityPerCore: 4096}}
		var raw map[string]any
		if _, err := toml.Decode(c.TOML(), &raw); err != nil {
			t.Fatal(err)
		}
		if raw["idle_sleep_us"] != int64(0) || fmt.Sprint(raw["session"]) != "map[capacity_per_core:4096]" {
			t.Errorf("decoded %v", raw)
		}
		for _, table := range []string{"log", "pool", "service"} {
			if _, ok := raw[table]; ok {
				t.Errorf("zero fields wrote a %q table", table)
			}
		}
	})
}

func TestNames(t *testing.T) {
	n := UniqueIfName()
	if len(n) > 15 || !strings.HasPrefix(n, IfPrefix) {
		t.Errorf("UniqueIfName() = %q", n)
	}
	if pid, ok := ownerPid(n, IfPrefix, 16); !ok || pid != os.Getpid() {
		t.Errorf("ownerPid(%q) = %d, %v; want %d", n, pid, ok, os.Getpid())
	}
	// The largest pid Linux hands out (pid_max 2^22) still fits IFNAMSIZ.
	if n := fmt.Sprintf("%s%x-%d", IfPrefix, 1<<22, 999); len(n) > 15 {
		t.Errorf("%q is longer than 15 bytes", n)
	}
	for _, tc := range []struct {
		name, prefix string
		base, pid    int
		ok           bool
	}{
		{"fngwt-123-4-gw", NetnsPrefix, 10, 123, true},
		{"fngwt-12x-4", NetnsPrefix, 10, 0, false},
		{"other-123-4", NetnsPrefix, 10, 0, false},
		{"fngwt-123", NetnsPrefix, 10, 0, false},
		{"123-9.pid", "", 10, 123, true},
		{"fgt1f-2", IfPrefix, 16, 31, true},
	} {
		pid, ok := ownerPid(tc.name, tc.prefix, tc.base)
		if pid != tc.pid || ok != tc.ok {
			t.Errorf("ownerPid(%q) = %d, %v; want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
	if !alive(os.Getpid()) || alive(-1) {
		t.Error("alive is wrong about this process or pid -1")
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if err := Poll(time.Second, "n to reach 3", func() error {
		if n++; n < 3 {
			return fmt.Errorf("n = %d", n)
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("Poll = %v after %d calls", err, n)
	}
	last := errors.New("still waiting")
	err := Poll(30*time.Millisecond, "never", func() error { return last })
	if !errors.Is(err, last) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Poll on timeout = %v", err)
	}
}

func TestCorruptions(t *testing.T) {
	good := ICMPEchoRequest(hosts, 1, 2, []byte("abcd"))
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"l4_icmp", CorruptL4Checksum(good), "ICMP checksum"},
		{"l4_tcp", CorruptL4Checksum(TCPSyn(hosts, 1, 2, 3)), "TCP checksum"},
		{"l4_udp", CorruptL4Checksum(UDP(hosts, 1, 2, nil)), "UDP checksum"},
		{"total_length", WithIPv4TotalLength(good, 200), "total length 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyChecksums(tc.frame)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "IPv4 header checksum") {
				t.Errorf("VerifyChecksums = %v, want only an error about %q", err, tc.want)
			}
		})
	}
	if f := FixIPv4Checksum(CorruptIPv4Checksum(good)); !bytes.Equal(f, good) {
		t.Errorf("FixIPv4Checksum did not restore the checksum: %x", f[14:34])
	}
	if err := Expect(Truncated(good, 30)); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("Expect on a cut IPv4 header = %v, want a decoding error", err)
	}
}
