// Package gen builds the benchmark traffic of fngw's perf lab as pcap files:
// N flows of UDP or TCP toward a FULLNAT virtual service, in four modes.
//
//	forward  client → VIP packets, one per flow and pass (TCP: the first
//	         pass of the file is SYNs, so the gateway creates sessions)
//	syn      one TCP SYN per flow, every flow unique (new-session rate)
//	reply    real server → LIP:lport packets of the sessions a forward pass
//	         creates, lports predicted as the gateway allocates them
//	mixed    forward and reply interleaved (fwd 0, reply 0, fwd 1, …), so
//	         one looped file both creates the sessions and then exercises
//	         both directions
//
// Frames are built with gopacket (checksums computed) once per flow; the
// generator never runs on the datapath.
//
// Reply prediction. A gateway with one worker core allocates a FULLNAT local
// port per (protocol, LIP, RIP, rport) pool, handing out never-used ports in
// ascending order from the bottom of the local port range; it picks the real
// server round robin from the first in configuration order and rotates the
// LIPs starting at the second. Spec.Lport reproduces that for flows created in
// file order. It holds for one worker core and a fresh gateway; with several
// cores, RSS decides which core (and so which port slice) a flow lands on.
//
// Files:
//
//	gen.go   Spec, the local-port prediction, Builder (templates patched per flow)
//	lab.go   the perf lab's addressing plan (LabSpec)
//	pcap.go  a streaming classic-pcap writer and a reader
//
// Tests compare every patched frame with a per-packet gopacket serialization
// (the reference), decode frames field by field, and check the prediction.
package gen
