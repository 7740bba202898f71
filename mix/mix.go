// Package mix spreads the bits of a word over all of it, for hash tables
// and seeds: the splitmix64 finalizer, a bijection in which every input bit
// affects every output bit. Its one function inlines into its callers (the
// session, neighbour, template and port tables).
package mix

// Uint64 is the splitmix64 finalizer of x.
func Uint64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
