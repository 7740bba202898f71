package gen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Classic pcap (draft-ietf-opsawg-pcap), microsecond timestamps, Ethernet link
// type: what net_pcap's rx_pcap, tcpreplay and TRex read. gopacket's pcapgo
// would do, but it needs golang.org/x/net, which the module does not require.
const (
	pcapMagic     = 0xa1b2c3d4
	pcapSnapLen   = 65535
	linkEthernet  = 1
	pcapHeaderLen = 24
	pcapRecordLen = 16
)

// PcapWriter streams frames into a pcap file.
type PcapWriter struct {
	w   *bufio.Writer
	n   int
	rec [pcapRecordLen]byte
}

// NewPcapWriter writes the file header to w.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	var h [pcapHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], pcapSnapLen)
	le.PutUint32(h[20:], linkEthernet)
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(h[:]); err != nil {
		return nil, err
	}
	return &PcapWriter{w: bw}, nil
}

// Write appends one frame, timestamped one microsecond after the previous.
func (p *PcapWriter) Write(frame []byte) error {
	if len(frame) > pcapSnapLen {
		return fmt.Errorf("frame of %d bytes exceeds the pcap snap length %d", len(frame), pcapSnapLen)
	}
	le := binary.LittleEndian
	le.PutUint32(p.rec[0:], uint32(1_700_000_000+p.n/1_000_000))
	le.PutUint32(p.rec[4:], uint32(p.n%1_000_000))
	le.PutUint32(p.rec[8:], uint32(len(frame)))
	le.PutUint32(p.rec[12:], uint32(len(frame)))
	p.n++
	if _, err := p.w.Write(p.rec[:]); err != nil {
		return err
	}
	_, err := p.w.Write(frame)
	return err
}

// Count is the number of frames written.
func (p *PcapWriter) Count() int { return p.n }

// Flush writes out what is buffered.
func (p *PcapWriter) Flush() error { return p.w.Flush() }

// WriteFile generates s into the pcap file path (through a temporary file, so
// an interrupted run never leaves a short file under that name) and returns
// the number of frames.
func WriteFile(path string, s Spec) (int, error) {
	b, err := NewBuilder(s)
	if err != nil {
		return 0, err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	pw, err := NewPcapWriter(f)
	if err == nil {
		err = b.Each(pw.Write)
	}
	if err == nil {
		err = pw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("pcap %s: %w", path, err)
	}
	return pw.Count(), os.Rename(tmp, path)
}

// ReadPcap returns the frames of a classic little-endian pcap file (as
// WriteFile makes), for tests and checks.
func ReadPcap(r io.Reader) ([][]byte, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var h [pcapHeaderLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	le := binary.LittleEndian
	if m := le.Uint32(h[0:]); m != pcapMagic && m != 0xa1b23c4d {
		return nil, fmt.Errorf("pcap magic %#x: not a little-endian classic pcap", m)
	}
	var out [][]byte
	var rec [pcapRecordLen]byte
	for {
		if _, err := io.ReadFull(br, rec[:]); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("pcap record %d: %w", len(out), err)
		}
		f := make([]byte, le.Uint32(rec[8:]))
		if _, err := io.ReadFull(br, f); err != nil {
			return out, fmt.Errorf("pcap record %d: %w", len(out), err)
		}
		out = append(out, f)
	}
}
