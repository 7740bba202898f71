// Package pkttest builds and decodes packets with gopacket for the tests of
// every package that handles frames: header, arp, nat, tunnel and lcore test
// their own code against frames gopacket built and read back, and
// test/harness builds the frames it feeds the real gateway the same way.
//
// It imports only gopacket and the standard library, so the internal tests of
// any fngw package can use it without an import cycle (header's included):
// addresses come in as any array type of the right size, such as header.MAC
// and header.Addr4. Like every helper of the test tree it is test code;
// nothing on the datapath imports it.
//
// Files:
//
//	pkttest.go  Serialize (lengths and checksums computed), Decode, and the
//	            address conversions gopacket's layers want (MAC, IP)
package pkttest
