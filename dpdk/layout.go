package dpdk

/*
#include "fngw_dpdk.h"
static const size_t fngw_off[] = {
	offsetof(struct rte_mbuf, buf_addr), offsetof(struct rte_mbuf, data_off),
	offsetof(struct rte_mbuf, refcnt), offsetof(struct rte_mbuf, nb_segs),
	offsetof(struct rte_mbuf, port), offsetof(struct rte_mbuf, ol_flags),
	offsetof(struct rte_mbuf, packet_type), offsetof(struct rte_mbuf, pkt_len),
	offsetof(struct rte_mbuf, data_len), offsetof(struct rte_mbuf, vlan_tci),
	offsetof(struct rte_mbuf, hash.rss), offsetof(struct rte_mbuf, buf_len),
	offsetof(struct rte_mbuf, next), offsetof(struct rte_mbuf, tx_offload),
	sizeof(struct rte_mbuf), RTE_PKTMBUF_HEADROOM,
	RTE_MBUF_F_RX_RSS_HASH, RTE_MBUF_F_RX_VLAN, RTE_MBUF_F_RX_L4_CKSUM_BAD,
	RTE_MBUF_F_RX_IP_CKSUM_BAD, RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
	RTE_MBUF_F_TX_TCP_CKSUM, RTE_MBUF_F_TX_UDP_CKSUM, RTE_MBUF_F_TX_IP_CKSUM,
	RTE_MBUF_F_TX_IPV4,
};
static size_t fngw_off_at(int i) { return fngw_off[i]; }
*/
import "C"

import "fmt"

// The Go side reads mbuf fields at fixed offsets (mbuf.go). A DPDK whose layout
// differs must fail loudly at start, never corrupt packets.
func init() {
	want := []uint64{offBufAddr, offDataOff, offRefcnt, offNbSegs, offPort, offOlFlags,
		offPacketType, offPktLen, offDataLen, offVlanTCI, offRSS, offBufLen, offNext,
		offTxOffload, mbufSize, DefaultHeadroom,
		RxRSSHash, RxVLAN, RxL4CksumBad, RxIPCksumBad, RxIPCksumGood, RxL4CksumGood,
		TxTCPCksum, TxUDPCksum, TxIPCksum, TxIPv4}
	for i, w := range want {
		if got := uint64(C.fngw_off_at(C.int(i))); got != w {
			panic(fmt.Sprintf("dpdk: rte_mbuf layout mismatch at entry %d: C says %d, Go assumes %d", i, got, w))
		}
	}
}
