package harness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// Classic pcap files (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/),
// Ethernet link type, as net_pcap reads (rx_pcap) and writes (tx_pcap: DPDK
// 22.11 writes nanosecond timestamps, magic a1b23c4d). gopacket's pcapgo would
// do, but it pulls golang.org/x/net, which the module does not require; the
// format is small enough to read and write here.
const (
	pcapMagicMicro   = 0xa1b2c3d4
	pcapMagicNano    = 0xa1b23c4d
	pcapHeaderLen    = 24
	pcapRecordLen    = 16
	pcapSnapLen      = 65535
	LinkTypeEthernet = 1
)

// WritePcap writes frames to path as a microsecond pcap with Ethernet link
// type, one record per frame, timestamps one microsecond apart.
func WritePcap(path string, frames ...[]byte) error {
	b := make([]byte, pcapHeaderLen, pcapHeaderLen+len(frames)*(pcapRecordLen+64))
	le := binary.LittleEndian
	le.PutUint32(b[0:], pcapMagicMicro)
	le.PutUint16(b[4:], 2) // version 2.4
	le.PutUint16(b[6:], 4)
	le.PutUint32(b[16:], pcapSnapLen)
	le.PutUint32(b[20:], LinkTypeEthernet)
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range frames {
		if len(f) > pcapSnapLen {
			return fmt.Errorf("pcap %s: frame of %d bytes exceeds the snap length %d", path, len(f), pcapSnapLen)
		}
		var rec [pcapRecordLen]byte
		le.PutUint32(rec[0:], uint32(ts.Unix()))
		le.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(f)))
		le.PutUint32(rec[12:], uint32(len(f)))
		b = append(b, rec[:]...)
		b = append(b, f...)
		ts = ts.Add(time.Microsecond)
	}
	return os.WriteFile(path, b, 0o644)
}

// ErrPcapIncomplete is returned (wrapped) by ReadPcap when the file ends in
// the middle of its header or of a record: it is still being written.
var ErrPcapIncomplete = errors.New("pcap file incomplete")

// ReadPcap reads every frame of the pcap file at path. It accepts either byte
// order and micro- or nanosecond timestamps, requires the Ethernet link type,
// and rejects records whose captured length is less than the original
// length (a truncated capture would hide bytes the tests must check). When the
// file ends inside a record, it returns the complete frames before it with an
// error wrapping ErrPcapIncomplete.
func ReadPcap(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < pcapHeaderLen {
		return nil, fmt.Errorf("pcap %s: %d bytes, shorter than the file header: %w", path, len(b), ErrPcapIncomplete)
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(b) == pcapMagicMicro || binary.LittleEndian.Uint32(b) == pcapMagicNano:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(b) == pcapMagicMicro || binary.BigEndian.Uint32(b) == pcapMagicNano:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap %s: bad magic %#08x", path, binary.LittleEndian.Uint32(b))
	}
	if lt := bo.Uint32(b[20:]) & 0xffff; lt != LinkTypeEthernet {
		return nil, fmt.Errorf("pcap %s: link type %d, want Ethernet (1)", path, lt)
	}
	var frames [][]byte
	for off := pcapHeaderLen; off < len(b); {
		if len(b)-off < pcapRecordLen {
			return frames, fmt.Errorf("pcap %s: record header at offset %d cut short: %w", path, off, ErrPcapIncomplete)
		}
		incl, orig := int(bo.Uint32(b[off+8:])), int(bo.Uint32(b[off+12:]))
		off += pcapRecordLen
		if incl != orig {
			return frames, fmt.Errorf("pcap %s: frame %d captured %d of %d bytes", path, len(frames), incl, orig)
		}
		if len(b)-off < incl {
			return frames, fmt.Errorf("pcap %s: frame %d cut short: %w", path, len(frames), ErrPcapIncomplete)
		}
		frames = append(frames, b[off:off+incl:off+incl])
		off += incl
	}
	return frames, nil
}

// ReadPcapSoFar reads a pcap file another process may still be writing: a
// missing file, a file without a complete header, or a cut-short last record
// give the complete frames so far (possibly none) and no error.
func ReadPcapSoFar(path string) ([][]byte, error) {
	frames, err := ReadPcap(path)
	if errors.Is(err, ErrPcapIncomplete) || errors.Is(err, os.ErrNotExist) {
		return frames, nil
	}
	return frames, err
}
