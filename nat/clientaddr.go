package nat

import "fmt"

// ClientAddr is how a FULLNAT service tells its real servers the client's
// address, which FULLNAT replaces by a local address: a PROXY protocol
// header (HAProxy's specification) at the start of each connection's byte
// stream or each datagram, or DPVS's TOA TCP option.
type ClientAddr uint8

// Client-address options.
const (
	ClientAddrNone ClientAddr = iota
	ProxyV1                   // the PROXY protocol's text line (TCP)
	ProxyV2                   // its binary header (TCP and UDP)
	TOA                       // TCP option 254 in the first segments

	numClientAddrs = iota
)

var clientAddrNames = [numClientAddrs]string{"none", "proxy-v1", "proxy-v2", "toa"}

// String returns "none", "proxy-v1", "proxy-v2" or "toa".
func (a ClientAddr) String() string {
	if a < numClientAddrs {
		return clientAddrNames[a]
	}
	return fmt.Sprintf("client-addr(%d)", uint8(a))
}
