package cref

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/perf/gen"
	"fngw/perf/lab"
	"fngw/test/harness"
)

// TestForward runs cref over net_pcap on the lab plan's mixed traffic
// (each flow's first packet, then the real server's reply to it): every
// well-formed packet leaves rewritten as the gateway would rewrite it
// (CIP:cport -> VIP:vport to LIP:lport -> RIP:rport and back, with the
// gateway's choice of real server, local address and port; TTL
// decremented, checksums right, the MACs set), and every other frame is
// dropped and counted under its reason.
func TestForward(t *testing.T) {
	harness.Prepare(t)
	bin := filepath.Join(t.TempDir(), "cref")
	if out, err := exec.Command("./build.sh", bin).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) { testForward(t, bin, proto) })
	}
}

// counts is cref's own counter line.
type counts struct {
	rx, tx, notMine, malformed, other uint64
	sessions                          int
}

var reCounts = regexp.MustCompile(`cref: rx (\d+) tx (\d+) not-mine (\d+) malformed (\d+) no-session \d+ full \d+ other (\d+) sessions (\d+)`)

func testForward(t *testing.T, bin, proto string) {
	const flows, nservers, nlips = 40, 2, 3
	sp, err := gen.LabSpec(gen.Mixed, proto, flows, 64, 80, 8080, nservers, nlips)
	if err != nil {
		t.Fatal(err)
	}
	sp.Defaults()
	b, err := gen.NewBuilder(sp)
	if err != nil {
		t.Fatal(err)
	}
	var good [][]byte
	if err := b.Each(func(f []byte) error {
		good = append(good, bytes.Clone(f))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Then frames that must not pass: another destination MAC and a bad
	// IPv4 checksum (malformed), port 81 of the VIP (not mine: its L4
	// checksum, now wrong, is not what drops it), and flow 0's packet
	// again with a TTL of 1 (other: the gateway answers it with an ICMP
	// error).
	bad := func(fn func(f []byte)) []byte {
		f := bytes.Clone(good[0])
		fn(f)
		return f
	}
	frames := append(append([][]byte{}, good...),
		bad(func(f []byte) { f[5] ^= 1 }),
		bad(func(f []byte) { f[14+10] ^= 0xff }),
		bad(func(f []byte) { f[14+20+3]++ }),
		bad(func(f []byte) { setTTL(f, 1) }),
	)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pcap"), filepath.Join(dir, "out.pcap")
	if err := harness.WritePcap(in, frames...); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-l", "0,1", "--no-huge", "-m", "256", "--no-pci",
		"--file-prefix", fmt.Sprintf("creftest%d", os.Getpid()), "--log-level", "*:warning",
		"--vdev", "net_pcap0,rx_pcap=" + in + ",tx_pcap=" + out, "--"}, lab.CRefArgs(sp, 4096, 1024)...)
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "cref.log")
	lf, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	output := func() string {
		b, _ := os.ReadFile(logf)
		return string(b)
	}
	send := func(cmd string) {
		if _, err := io.WriteString(stdin, cmd+"\n"); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, output())
		}
	}
	// The counters after each show, until every frame has a verdict.
	var c counts
	send("start")
	for end := time.Now().Add(60 * time.Second); ; {
		send("show port stats all")
		time.Sleep(100 * time.Millisecond)
		if m := reCounts.FindAllStringSubmatch(output(), -1); m != nil {
			c = parseCounts(m[len(m)-1])
		}
		if c.tx+c.notMine+c.malformed+c.other >= uint64(len(frames)) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("cref handled %+v of %d frames in 60 s:\n%s", c, len(frames), output())
		}
	}
	send("quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cref: %v\n%s", err, output())
		}
		done <- nil // for the deferred Wait
	case <-time.After(30 * time.Second):
		t.Fatalf("cref did not quit:\n%s", output())
	}
	if want := (counts{rx: uint64(len(frames)), tx: 2 * flows, notMine: 1, malformed: 2, other: 1, sessions: flows}); c != want {
		t.Errorf("counters %+v, want %+v", c, want)
	}
	sent, err := harness.ReadPcap(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2*flows {
		t.Fatalf("%d frames sent, want %d", len(sent), 2*flows)
	}
	for i, x := range sp.Sessions() {
		ca, cp := sp.Client(i)
		client := netip.AddrPortFrom(ca, cp)
		if err := checkRewrite(good[2*i], sent[2*i], netip.AddrPortFrom(x.LIP, x.Lport), x.Server, gen.LabServerMAC); err != nil {
			t.Errorf("flow %d: %v", i, err)
		}
		if err := checkRewrite(good[2*i+1], sent[2*i+1], sp.VIP, client, gen.LabRouterMAC); err != nil {
			t.Errorf("flow %d's reply: %v", i, err)
		}
	}
}

// checkRewrite checks frame out, cref's rewrite of in: sent from src to dst
// over the next hop dmac, TTL decremented, payload unchanged, checksums
// right.
func checkRewrite(in, out []byte, src, dst netip.AddrPort, dmac net.HardwareAddr) error {
	pi := gopacket.NewPacket(in, layers.LayerTypeEthernet, gopacket.Default)
	po := gopacket.NewPacket(out, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := po.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := po.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ipIn, _ := pi.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if eth == nil || ip == nil || ipIn == nil {
		return fmt.Errorf("not Ethernet and IPv4: %v", po)
	}
	if eth.SrcMAC.String() != gen.LabGatewayMAC.String() || eth.DstMAC.String() != dmac.String() {
		return fmt.Errorf("MACs %v -> %v, want %v -> %v", eth.SrcMAC, eth.DstMAC, gen.LabGatewayMAC, dmac)
	}
	sa, _ := netip.AddrFromSlice(ip.SrcIP)
	da, _ := netip.AddrFromSlice(ip.DstIP)
	if sa != src.Addr() || da != dst.Addr() || ip.TTL != ipIn.TTL-1 {
		return fmt.Errorf("IPv4 %v -> %v TTL %d, want %v -> %v TTL %d", sa, da, ip.TTL, src.Addr(), dst.Addr(), ipIn.TTL-1)
	}
	var sport, dport uint16
	var l4 gopacket.SerializableLayer
	var payload []byte
	var sum uint16
	switch l := po.TransportLayer().(type) {
	case *layers.UDP:
		sport, dport, sum, payload = uint16(l.SrcPort), uint16(l.DstPort), l.Checksum, l.Payload
		c := *l
		_ = c.SetNetworkLayerForChecksum(ip)
		l4 = &c
	case *layers.TCP:
		sport, dport, sum, payload = uint16(l.SrcPort), uint16(l.DstPort), l.Checksum, l.Payload
		c := *l
		_ = c.SetNetworkLayerForChecksum(ip)
		l4 = &c
	default:
		return fmt.Errorf("no TCP or UDP: %v", po)
	}
	if sport != src.Port() || dport != dst.Port() {
		return fmt.Errorf("ports %d -> %d, want %d -> %d", sport, dport, src.Port(), dst.Port())
	}
	if !bytes.Equal(payload, pi.TransportLayer().LayerPayload()) {
		return fmt.Errorf("payload changed")
	}
	// The checksums as gopacket computes them from scratch.
	ipc := *ip
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, &ipc, l4, gopacket.Payload(payload)); err != nil {
		return err
	}
	want := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeIPv4, gopacket.Default)
	wantIP := want.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	var wantSum uint16
	switch l := want.TransportLayer().(type) {
	case *layers.UDP:
		wantSum = l.Checksum
	case *layers.TCP:
		wantSum = l.Checksum
	}
	if ip.Checksum != wantIP.Checksum || sum != wantSum {
		return fmt.Errorf("checksums IPv4 %#04x L4 %#04x, want %#04x %#04x", ip.Checksum, sum, wantIP.Checksum, wantSum)
	}
	return nil
}

func parseCounts(m []string) counts {
	n := func(s string) uint64 {
		v, _ := strconv.ParseUint(s, 10, 64)
		return v
	}
	return counts{rx: n(m[1]), tx: n(m[2]), notMine: n(m[3]), malformed: n(m[4]), other: n(m[5]), sessions: int(n(m[6]))}
}

// setTTL sets the frame's TTL and computes its IPv4 checksum again.
func setTTL(f []byte, ttl byte) {
	ip := header.IPv4(f[header.EthernetLen:])
	ip.SetTTL(ttl)
	ip.SetChecksum(ip.CalculateChecksum())
}
