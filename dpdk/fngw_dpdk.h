/* C side of package dpdk: wrappers for DPDK's static inline functions, so that Go
 * calls exactly one C function per burst. Included by every cgo file of the package. */
#ifndef FNGW_DPDK_H
#define FNGW_DPDK_H
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

static inline uint16_t fngw_rx_burst(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n) {
	return rte_eth_rx_burst(port, q, pkts, n);
}
static inline uint16_t fngw_tx_burst(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n) {
	return rte_eth_tx_burst(port, q, pkts, n);
}
static inline int fngw_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n) {
	return rte_pktmbuf_alloc_bulk(mp, pkts, n);
}
static inline unsigned fngw_ring_enq(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) {
	return rte_ring_enqueue_burst(r, (void * const *)pkts, n, NULL);
}
static inline unsigned fngw_ring_deq(struct rte_ring *r, struct rte_mbuf **pkts, unsigned n) {
	return rte_ring_dequeue_burst(r, (void **)pkts, n, NULL);
}
static inline unsigned fngw_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }
/* fngw_link reads link status and duplex, which are bitfields cgo cannot reach. */
static inline int fngw_link(uint16_t port, uint32_t *speed, int *up, int *full) {
	struct rte_eth_link l;
	int rc = rte_eth_link_get_nowait(port, &l);
	if (rc != 0)
		return rc;
	*speed = l.link_speed;
	*up = l.link_status;
	*full = l.link_duplex;
	return 0;
}
static inline int fngw_errno(void) { return rte_errno; }

/* fngw_port_configure configures port with nrx/ntx queues, enabling RSS over the
 * IP/TCP/UDP fields the device supports when nrx > 1 (key may be NULL for the
 * device default, or key_len bytes). */
static inline int fngw_port_configure(uint16_t port, uint16_t nrx, uint16_t ntx,
		const uint8_t *key, uint8_t key_len, uint64_t *rss_hf_out) {
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	int rc;
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0)
		return rc;
	*rss_hf_out = 0;
	if (nrx > 1) {
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		if (hf != 0) {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
			conf.rx_adv_conf.rss_conf.rss_key = (uint8_t *)key;
			conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
			*rss_hf_out = hf;
		}
	}
	return rte_eth_dev_configure(port, nrx, ntx, &conf);
}
#endif
