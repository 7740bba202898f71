// Package nat is the load-balancing datapath core: per-core session tables,
// the timer wheel, local-address port pools, the TCP state machine, and the
// in-place rewrite of each forwarding mode.
package nat
