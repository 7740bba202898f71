package dpdk

import "unsafe"

func (m *Mbuf) u16(off uintptr) *uint16 { return (*uint16)(unsafe.Add(unsafe.Pointer(m), off)) }
func (m *Mbuf) u32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(unsafe.Pointer(m), off)) }
func (m *Mbuf) u64(off uintptr) *uint64 { return (*uint64)(unsafe.Add(unsafe.Pointer(m), off)) }

func (m *Mbuf) bufAddr() unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(m), offBufAddr))
}

// Room is the mbuf's whole data room: headroom, packet data and tailroom. The packet
// starts at DataOff().
func (m *Mbuf) Room() []byte {
	return unsafe.Slice((*byte)(m.bufAddr()), int(*m.u16(offBufLen)))
}

// Data is the packet's bytes (first segment).
func (m *Mbuf) Data() []byte {
	p := unsafe.Add(m.bufAddr(), uintptr(*m.u16(offDataOff)))
	return unsafe.Slice((*byte)(p), int(*m.u16(offDataLen)))
}

// DataOff is the offset of the packet's first byte inside Room.
func (m *Mbuf) DataOff() int { return int(*m.u16(offDataOff)) }

// DataLen is the length of the first segment.
func (m *Mbuf) DataLen() int { return int(*m.u16(offDataLen)) }

// PktLen is the length of the whole packet over all segments.
func (m *Mbuf) PktLen() int { return int(*m.u32(offPktLen)) }

// NbSegs is the number of segments in the chain.
func (m *Mbuf) NbSegs() int { return int(*m.u16(offNbSegs)) }

// SetData moves the packet to start at off inside Room with length n, for a single
// segment mbuf (what a prepend or trim does). The caller has checked the bounds.
func (m *Mbuf) SetData(off, n int) {
	*m.u16(offDataOff) = uint16(off)
	*m.u16(offDataLen) = uint16(n)
	*m.u32(offPktLen) = uint32(n)
}

// Port is the port the packet was received on (or will be sent to, by convention on
// rings that carry it between cores).
func (m *Mbuf) Port() uint16 { return *m.u16(offPort) }

// SetPort sets the port field.
func (m *Mbuf) SetPort(p uint16) { *m.u16(offPort) = p }

// OlFlags are the offload flags (Rx* and Tx* constants).
func (m *Mbuf) OlFlags() uint64 { return *m.u64(offOlFlags) }

// SetOlFlags replaces the offload flags.
func (m *Mbuf) SetOlFlags(f uint64) { *m.u64(offOlFlags) = f }

// RSS is the RSS hash the NIC computed; meaningful when OlFlags has RxRSSHash.
func (m *Mbuf) RSS() uint32 { return *m.u32(offRSS) }

// UserTag is hash.usr, DPDK's user-defined tag, which shares its storage with
// the RSS hash: once a packet's RSS hash has been read, an application may
// carry its own 32 bits of metadata there between its lcores.
func (m *Mbuf) UserTag() uint32 { return *m.u32(offRSS) }

// SetUserTag sets hash.usr (overwriting the RSS hash).
func (m *Mbuf) SetUserTag(v uint32) { *m.u32(offRSS) = v }

// PacketType is the PMD's packet type classification (RTE_PTYPE_*), 0 when unknown.
func (m *Mbuf) PacketType() uint32 { return *m.u32(offPacketType) }

// VlanTCI is the stripped VLAN tag when OlFlags has RxVLAN.
func (m *Mbuf) VlanTCI() uint16 { return *m.u16(offVlanTCI) }

// SetTxOffload sets the l2_len and l3_len bitfields used by checksum offloads and
// replaces the offload flags with f.
func (m *Mbuf) SetTxOffload(l2, l3 int, f uint64) {
	*m.u64(offTxOffload) = uint64(l2)<<txOffloadL2Shift | uint64(l3)<<txOffloadL3Shift
	*m.u64(offOlFlags) = f
}
