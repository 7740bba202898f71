package header

// Big-endian fields at fixed offsets. binary.BigEndian on a subslice
// (b[off:]) slices first, a length check and a pointer adjustment per field;
// indexing b at constant offsets lets the compiler merge the byte loads and
// stores into one access and drop the bounds checks a caller has already
// made (one check of a header's last byte covers all of its fields). The
// last byte is indexed first, so its check covers the others.

func be16(b []byte, off int) uint16 { return uint16(b[off+1]) | uint16(b[off])<<8 }

func be32(b []byte, off int) uint32 {
	return uint32(b[off+3]) | uint32(b[off+2])<<8 | uint32(b[off+1])<<16 | uint32(b[off])<<24
}

func putBE16(b []byte, off int, v uint16) {
	b[off+1] = byte(v)
	b[off] = byte(v >> 8)
}

func putBE32(b []byte, off int, v uint32) {
	b[off+3] = byte(v)
	b[off+2] = byte(v >> 8)
	b[off+1] = byte(v >> 16)
	b[off] = byte(v >> 24)
}
