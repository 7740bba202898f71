/*
 * cref: the gateway's established-flow FULLNAT work in C, as a yardstick for
 * the perf lab (perf/README.md, "How a run measures": the yardsticks).
 *
 * One worker lcore polls one port and does, per packet, what fngw's worker
 * does on its fast path (lcore classify, nat lookAhead and established): the
 * L2/L3 checks (one segment, Ethernet type, destination MAC, IPv4 header and
 * checksum, martian source), the look-up of the burst's sessions in two
 * prefetching steps (hash every tuple and prefetch its home bucket, then read
 * the buckets and prefetch the candidate sessions), the session's checks
 * (tuple, mode, egress, TTL, MTU, L4 header), its deadline and its
 * destination's and service's counters, the rewrite to LIP:lport -> RIP:rport
 * with incremental checksum updates (RFC 1624), the MACs, and one tx burst.
 * The session (96 bytes) and the index (8-byte buckets, 20/7 per session,
 * linear probing, both directions indexed) have fngw's layout and load.
 *
 * A packet without a session to VIP:vport makes one, as one fngw worker
 * core would (nat allocLaddr): real servers in turn, local addresses in turn
 * from the second (the next one when a pool is exhausted), local ports
 * counting up per local address and real server, so that the lab's reply
 * traffic, made for the gateway, finds its sessions. Everything else is
 * dropped and counted. Only what the bench needs: no expiry, no ARP, no
 * routes, no other modes.
 *
 * It reads testpmd's interactive commands on stdin (start, show port stats
 * all, stop, quit) and prints its counters in testpmd's format, so that the
 * perf lab measures it exactly as it measures testpmd.
 *
 *   cref EAL-ARGS -- --mbufs N --capacity N --vip A:P --proto udp|tcp
 *        --servers A:P,... --lips A,... --server-mac M --router-mac M
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#define BURST 64 /* fngw's lcore.BurstSize */
#define MAX_SERVERS 64
#define MAX_LIPS 64
#define LPORT_MIN 1024
#define MTU 1500

struct tuple {
	uint32_t src, dst; /* network order */
	uint16_t sport, dport; /* network order */
	uint8_t proto, pad[3];
};

struct dir {
	struct rte_ether_addr dmac;
	uint16_t port;
};

/* fngw's nat.Session: the tuple received in each direction, the egress of
 * each, the checksum deltas, the deadline and its wheel slot, the
 * destination and service, state, mode, egress bits and generation. */
struct session {
	struct tuple t[2]; /* [0] client -> VIP, [1] real server -> LIP */
	struct dir d[2];
	uint16_t dip[2], dl4[2];
	uint64_t expires;
	uint64_t gen;
	uint32_t wheel;
	uint16_t dest, svc;
	uint8_t state, mode, egress, pad[13];
};
_Static_assert(sizeof(struct session) == 96, "fngw's session is 96 bytes");

enum { MODE_FULLNAT = 1 };
enum { R_RX, R_TX, R_NOTMINE, R_MALFORMED, R_NOSESSION, R_FULL, R_OTHER, R_COUNT };

struct counter {
	uint64_t pkts[2], bytes[2];
};

static struct {
	struct session *sess;
	uint32_t nsess, cap;
	uint64_t *bkt; /* hash << 32 | (idx << 1 | dir) + 1; 0: empty */
	uint32_t nb;
	uint64_t seed, gen, timeout, shift;
	struct counter dests[MAX_SERVERS], svc;
	uint64_t n[R_COUNT];
} tab;

static struct {
	struct tuple vip; /* dst, dport, proto */
	uint32_t servers[MAX_SERVERS];
	uint16_t sports[MAX_SERVERS];
	int nservers;
	uint32_t lips[MAX_LIPS];
	int nlips;
	struct rte_ether_addr server_mac, router_mac, port_mac;
	uint32_t next[MAX_LIPS][MAX_SERVERS]; /* local ports handed out per pool */
	uint32_t laddr_rr;                    /* the local address tried first, in turn */
	uint32_t mbufs, capacity;
	uint16_t port;
} cfg;

static volatile bool running, quitting;

static inline uint32_t
hash(const struct tuple *k)
{
	uint64_t a = (uint64_t)k->src << 32 | k->dst;
	uint64_t b = (uint64_t)k->sport << 32 | (uint64_t)k->dport << 16 | k->proto;
	__uint128_t m = (__uint128_t)(a ^ tab.seed ^ 0xa0761d6478bd642fULL) * (b ^ 0xe7037ed1a0b428dbULL);
	uint64_t hi = m >> 64, lo = (uint64_t)m;
	m = (__uint128_t)(hi ^ lo ^ 0x8ebc6af09c88c6e3ULL) * (tab.seed ^ 0x589965cc75374cc3ULL);
	return (uint32_t)((uint64_t)(m >> 64) ^ (uint64_t)m);
}

static inline uint32_t
home(uint32_t h)
{
	return (uint64_t)h * tab.nb >> 32;
}

static inline bool
tuple_eq(const struct tuple *a, const struct tuple *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto;
}

/* lookup returns idx << 1 | dir of the session holding k, or -1. */
static int64_t
lookup(const struct tuple *k, uint32_t h)
{
	for (uint32_t i = home(h);; i = i + 1 == tab.nb ? 0 : i + 1) {
		uint64_t b = tab.bkt[i];
		if (b == 0)
			return -1;
		if ((uint32_t)(b >> 32) != h)
			continue;
		uint32_t v = (uint32_t)b - 1;
		if (tuple_eq(&tab.sess[v >> 1].t[v & 1], k))
			return v;
	}
}

static void
index_tuple(const struct tuple *k, uint32_t v)
{
	uint32_t h = hash(k);
	uint32_t i = home(h);
	while (tab.bkt[i] != 0)
		i = i + 1 == tab.nb ? 0 : i + 1;
	tab.bkt[i] = (uint64_t)h << 32 | (v + 1);
}

static uint16_t
fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

/* delta is the one's complement sum that turns the checksum of n 16-bit
 * words old into that of new (RFC 1624 eqn. 3), in memory order. */
static uint16_t
delta(const uint16_t *old, const uint16_t *new, int n)
{
	uint32_t s = 0;
	for (int i = 0; i < n; i++)
		s += (uint16_t)~old[i] + new[i];
	return fold(s);
}

static inline uint16_t
apply(uint16_t field, uint16_t d)
{
	return ~fold((uint16_t)~field + (uint32_t)d);
}

/* deltas sets the checksum deltas of a packet received in direction d,
 * which leaves with the reverse of the other direction's tuple. */
static void
deltas(struct session *s, int d)
{
	const struct tuple *in = &s->t[d], *o = &s->t[d ^ 1];
	uint16_t old[6], new[6];
	memcpy(old, &in->src, 4);
	memcpy(old + 2, &in->dst, 4);
	memcpy(new, &o->dst, 4);
	memcpy(new + 2, &o->src, 4);
	/* and the TTL decrement: the word (TTL, protocol) loses 1 in memory
	 * order, ~1 in one's complement */
	s->dip[d] = fold((uint32_t)delta(old, new, 4) + 0xfffe);
	old[4] = in->sport, old[5] = in->dport;
	new[4] = o->dport, new[5] = o->sport;
	s->dl4[d] = delta(old, new, 6);
}

/* new_flow makes the session of a client tuple k to the VIP, or returns -1. */
static int64_t
new_flow(const struct tuple *k, uint64_t now)
{
	if (tab.nsess == tab.cap) {
		tab.n[R_FULL]++;
		return -1;
	}
	uint32_t n = tab.nsess, rs = n % cfg.nservers, lip = 0;
	int j;
	cfg.laddr_rr++;
	for (j = 0; j < cfg.nlips; j++) {
		lip = (cfg.laddr_rr + j) % cfg.nlips;
		if (LPORT_MIN + cfg.next[lip][rs] <= 65535)
			break;
	}
	if (j == cfg.nlips) {
		tab.n[R_FULL]++;
		return -1;
	}
	uint32_t lport = LPORT_MIN + cfg.next[lip][rs];
	struct session *s = &tab.sess[n];
	memset(s, 0, sizeof(*s));
	s->t[0] = *k;
	s->t[1] = (struct tuple){.src = cfg.servers[rs], .dst = cfg.lips[lip], .sport = cfg.sports[rs],
				 .dport = htons(lport), .proto = k->proto};
	s->d[0] = (struct dir){.dmac = cfg.server_mac, .port = cfg.port};
	s->d[1] = (struct dir){.dmac = cfg.router_mac, .port = cfg.port};
	cfg.next[lip][rs]++;
	deltas(s, 0);
	deltas(s, 1);
	s->expires = now + tab.timeout;
	s->wheel = (uint32_t)(s->expires >> tab.shift);
	s->gen = tab.gen;
	s->dest = rs;
	s->mode = MODE_FULLNAT;
	s->egress = 3;
	s->state = 1;
	tab.nsess++;
	index_tuple(&s->t[0], n << 1);
	index_tuple(&s->t[1], n << 1 | 1);
	return n << 1;
}

/* peek reads the tuple of a 20-byte IPv4 header carrying TCP or UDP, not
 * a fragment (fngw's peekTuple). */
static inline bool
peek(const struct rte_mbuf *m, struct tuple *k)
{
	if (m->data_len < RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + 4)
		return false;
	const uint8_t *h = rte_pktmbuf_mtod_offset(m, const uint8_t *, RTE_ETHER_HDR_LEN);
	uint8_t p = h[9];
	if (h[0] != 0x45 || (p != IPPROTO_TCP && p != IPPROTO_UDP) || (h[6] & 0x3f) != 0 || h[7] != 0)
		return false;
	memcpy(&k->src, h + 12, 8);
	memcpy(&k->sport, h + 20, 4);
	k->proto = p;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	return true;
}

/* checksum_ok verifies an IPv4 header's checksum: a 20-byte header as five
 * 32-bit words (fngw's header.IPv4.IsChecksumValid), others with DPDK's. */
static inline bool
checksum_ok(const struct rte_ipv4_hdr *ip, uint32_t hl)
{
	if (hl != sizeof(*ip))
		return rte_raw_cksum(ip, hl) == 0xffff;
	uint32_t w[5];
	memcpy(w, ip, sizeof(w));
	uint64_t acc = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	return acc != 0 && acc % 0xffff == 0;
}

/* classify: fngw's lcore classify for IPv4 (the NIC gives no checksum
 * verdict on net_pcap, so the header checksum is computed). */
static inline bool
classify(struct rte_mbuf *m)
{
	if (m->nb_segs != 1 || m->data_len < RTE_ETHER_HDR_LEN)
		return false;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) || !rte_is_same_ether_addr(&eth->dst_addr, &cfg.port_mac))
		return false;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint32_t len = m->data_len - RTE_ETHER_HDR_LEN;
	if (len < sizeof(*ip))
		return false;
	uint32_t hl = (ip->version_ihl & 0xf) * 4, tl = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || hl < sizeof(*ip) || hl > tl || tl > len)
		return false;
	switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
		break;
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:
		return false;
	default:
		if (!checksum_ok(ip, hl))
			return false;
	}
	uint8_t s0 = ((const uint8_t *)&ip->src_addr)[0];
	if (s0 == 0 || s0 == 127 || s0 >= 224)
		return false;
	return (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_BAD;
}

/* forward: fngw's established, for session v of tuple k; false when the
 * packet does not qualify. */
static inline bool
forward(struct rte_mbuf *m, const struct tuple *k, uint32_t v, uint64_t now)
{
	struct session *s = &tab.sess[v >> 1];
	int d = v & 1;
	if (!tuple_eq(&s->t[d], k) || s->mode != MODE_FULLNAT || !(s->egress >> d & 1) || s->gen != tab.gen)
		return false;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint32_t n = rte_be_to_cpu_16(ip->total_length);
	if (n < sizeof(*ip) || n > (uint32_t)m->data_len - RTE_ETHER_HDR_LEN || ip->time_to_live <= 1 || n > MTU)
		return false;
	uint8_t *l4 = (uint8_t *)(ip + 1);
	uint32_t l4len = n - sizeof(*ip);
	if (k->proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		uint32_t off = (t->data_off >> 4) * 4;
		if (l4len < sizeof(*t) || off < sizeof(*t) || off > l4len)
			return false;
	} else {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		uint32_t ul = rte_be_to_cpu_16(u->dgram_len);
		if (l4len < sizeof(*u) || ul < sizeof(*u) || ul > l4len)
			return false;
	}
	uint32_t end = RTE_MAX(RTE_ETHER_HDR_LEN + n, (uint32_t)RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	if (m->data_len > end)
		m->data_len = m->pkt_len = end;
	/* deadline and counters */
	s->expires = now + tab.timeout;
	if ((int32_t)((uint32_t)(s->expires >> tab.shift) - s->wheel) < 0)
		s->wheel = (uint32_t)(s->expires >> tab.shift);
	struct counter *de = &tab.dests[s->dest];
	de->pkts[d]++, de->bytes[d] += n;
	tab.svc.pkts[d]++, tab.svc.bytes[d] += n;
	/* rewrite */
	const struct tuple *o = &s->t[d ^ 1];
	ip->hdr_checksum = apply(ip->hdr_checksum, s->dip[d]);
	ip->time_to_live--;
	ip->src_addr = o->dst;
	ip->dst_addr = o->src;
	if (k->proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		t->src_port = o->dport;
		t->dst_port = o->sport;
		t->cksum = apply(t->cksum, s->dl4[d]);
	} else {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		u->src_port = o->dport;
		u->dst_port = o->sport;
		if (u->dgram_cksum != 0) {
			uint16_t x = apply(u->dgram_cksum, s->dl4[d]);
			u->dgram_cksum = x == 0 ? 0xffff : x;
		}
	}
	const struct dir *ds = &s->d[d];
	eth->src_addr = cfg.port_mac;
	eth->dst_addr = ds->dmac;
	return true;
}

static int
worker(void *arg)
{
	(void)arg;
	struct rte_mbuf *rx[BURST], *tx[BURST], *fr[BURST];
	struct tuple keys[BURST];
	uint32_t hs[BURST];
	int64_t cand[BURST];
	bool ok[BURST];
	while (!quitting) {
		if (!running) {
			rte_pause();
			continue;
		}
		uint16_t n = rte_eth_rx_burst(cfg.port, 0, rx, BURST);
		if (n == 0)
			continue;
		uint64_t now = rte_get_tsc_cycles();
		tab.n[R_RX] += n;
		for (int i = 0; i < n; i++)
			rte_prefetch0(rte_pktmbuf_mtod(rx[i], void *));
		for (int i = 0; i < n; i++) {
			ok[i] = classify(rx[i]) && peek(rx[i], &keys[i]);
			if (ok[i]) {
				hs[i] = hash(&keys[i]);
				rte_prefetch0(&tab.bkt[home(hs[i])]);
			}
		}
		for (int i = 0; i < n; i++) {
			cand[i] = -1;
			if (!ok[i])
				continue;
			for (uint32_t j = home(hs[i]);; j = j + 1 == tab.nb ? 0 : j + 1) {
				uint64_t b = tab.bkt[j];
				if (b == 0)
					break;
				if ((uint32_t)(b >> 32) == hs[i]) {
					cand[i] = (uint32_t)b - 1;
					rte_prefetch0(&tab.sess[cand[i] >> 1]);
					rte_prefetch0((char *)&tab.sess[cand[i] >> 1] + sizeof(struct session) - 1);
					break;
				}
			}
		}
		int ntx = 0, nfr = 0;
		for (int i = 0; i < n; i++) {
			struct rte_mbuf *m = rx[i];
			if (!ok[i]) {
				tab.n[R_MALFORMED]++;
				fr[nfr++] = m;
				continue;
			}
			if (cand[i] >= 0 && forward(m, &keys[i], cand[i], now)) {
				tx[ntx++] = m;
				continue;
			}
			int64_t v = lookup(&keys[i], hs[i]);
			if (v < 0) {
				const struct tuple *k = &keys[i];
				if (k->dst != cfg.vip.dst || k->dport != cfg.vip.dport || k->proto != cfg.vip.proto) {
					tab.n[R_NOTMINE]++;
					fr[nfr++] = m;
					continue;
				}
				v = new_flow(k, now);
			}
			if (v >= 0 && forward(m, &keys[i], v, now)) {
				tx[ntx++] = m;
				continue;
			}
			tab.n[v < 0 ? R_NOSESSION : R_OTHER]++;
			fr[nfr++] = m;
		}
		uint16_t sent = rte_eth_tx_burst(cfg.port, 0, tx, ntx);
		tab.n[R_TX] += sent;
		if (sent < ntx)
			rte_pktmbuf_free_bulk(tx + sent, ntx - sent);
		if (nfr > 0)
			rte_pktmbuf_free_bulk(fr, nfr);
	}
	return 0;
}

static uint64_t last_rx, last_cycles;

/* show_stats prints the port's counters as testpmd's `show port stats all`. */
static void
show_stats(void)
{
	struct rte_eth_stats st;
	if (rte_eth_stats_get(cfg.port, &st) != 0)
		memset(&st, 0, sizeof(st));
	uint64_t now = rte_get_tsc_cycles(), pps = 0;
	if (last_cycles != 0 && now > last_cycles)
		pps = (double)(st.ipackets - last_rx) * rte_get_tsc_hz() / (now - last_cycles);
	last_rx = st.ipackets;
	last_cycles = now;
	printf("\n  ######################## NIC statistics for port %u  ########################\n", cfg.port);
	printf("  RX-packets: %-10" PRIu64 " RX-missed: %-10" PRIu64 " RX-bytes:  %" PRIu64 "\n", st.ipackets,
	       st.imissed, st.ibytes);
	printf("  RX-errors: %" PRIu64 "\n  RX-nombuf:  %-10" PRIu64 "\n", st.ierrors, st.rx_nombuf);
	printf("  TX-packets: %-10" PRIu64 " TX-errors: %-10" PRIu64 " TX-bytes:  %" PRIu64 "\n\n", st.opackets,
	       st.oerrors, st.obytes);
	printf("  Throughput (since last show)\n  Rx-pps: %12" PRIu64 "\n", pps);
	printf("  cref: rx %" PRIu64 " tx %" PRIu64 " not-mine %" PRIu64 " malformed %" PRIu64 " no-session %" PRIu64
	       " full %" PRIu64 " other %" PRIu64 " sessions %u\n",
	       tab.n[R_RX], tab.n[R_TX], tab.n[R_NOTMINE], tab.n[R_MALFORMED], tab.n[R_NOSESSION], tab.n[R_FULL],
	       tab.n[R_OTHER], tab.nsess);
	printf("  ############################################################################\n");
}

static void
die(const char *msg, const char *arg)
{
	fprintf(stderr, "cref: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static uint32_t
parse_addr(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		die("not an IPv4 address", s);
	return a.s_addr;
}

/* parse_addrport parses A:P into network-order address and port. */
static void
parse_addrport(const char *s, uint32_t *a, uint16_t *p)
{
	char buf[64];
	const char *c = strrchr(s, ':');
	if (c == NULL || c - s >= (long)sizeof(buf))
		die("want ADDRESS:PORT", s);
	memcpy(buf, s, c - s);
	buf[c - s] = 0;
	*a = parse_addr(buf);
	char *end;
	long v = strtol(c + 1, &end, 10);
	if (*end != 0 || v < 1 || v > 65535)
		die("port out of 1-65535", s);
	*p = htons((uint16_t)v);
}

static void
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mbufs", required_argument, 0, 'm'},  {"capacity", required_argument, 0, 'c'},
		{"vip", required_argument, 0, 'v'},    {"proto", required_argument, 0, 'p'},
		{"servers", required_argument, 0, 's'}, {"lips", required_argument, 0, 'l'},
		{"server-mac", required_argument, 0, 'M'}, {"router-mac", required_argument, 0, 'R'},
		{0, 0, 0, 0},
	};
	int c;
	cfg.vip.proto = IPPROTO_UDP;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *tok, *save;
		switch (c) {
		case 'm':
			cfg.mbufs = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cfg.capacity = strtoul(optarg, NULL, 10);
			break;
		case 'v':
			parse_addrport(optarg, &cfg.vip.dst, &cfg.vip.dport);
			break;
		case 'p':
			if (strcmp(optarg, "udp") == 0)
				cfg.vip.proto = IPPROTO_UDP;
			else if (strcmp(optarg, "tcp") == 0)
				cfg.vip.proto = IPPROTO_TCP;
			else
				die("--proto: want udp or tcp", optarg);
			break;
		case 's':
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (cfg.nservers == MAX_SERVERS)
					die("too many servers", tok);
				parse_addrport(tok, &cfg.servers[cfg.nservers], &cfg.sports[cfg.nservers]);
				cfg.nservers++;
			}
			break;
		case 'l':
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (cfg.nlips == MAX_LIPS)
					die("too many local addresses", tok);
				cfg.lips[cfg.nlips++] = parse_addr(tok);
			}
			break;
		case 'M':
			if (rte_ether_unformat_addr(optarg, &cfg.server_mac) != 0)
				die("--server-mac: not a MAC address", optarg);
			break;
		case 'R':
			if (rte_ether_unformat_addr(optarg, &cfg.router_mac) != 0)
				die("--router-mac: not a MAC address", optarg);
			break;
		default:
			die("unknown option", NULL);
		}
	}
	if (cfg.mbufs == 0 || cfg.capacity == 0 || cfg.vip.dst == 0 || cfg.nservers == 0 || cfg.nlips == 0 ||
	    rte_is_zero_ether_addr(&cfg.server_mac) || rte_is_zero_ether_addr(&cfg.router_mac))
		die("want --mbufs, --capacity, --vip, --servers, --lips, --server-mac and --router-mac", NULL);
}

static void
setup(void)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create("cref", cfg.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
							 rte_socket_id());
	if (mp == NULL)
		die("mbuf pool", rte_strerror(rte_errno));
	if (rte_eth_dev_count_avail() < 1)
		die("no port", NULL);
	struct rte_eth_conf conf = {0};
	if (rte_eth_dev_configure(cfg.port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(cfg.port, 0, 1024, rte_eth_dev_socket_id(cfg.port), NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup(cfg.port, 0, 1024, rte_eth_dev_socket_id(cfg.port), NULL) != 0 ||
	    rte_eth_dev_start(cfg.port) != 0)
		die("port set-up failed", NULL);
	rte_eth_macaddr_get(cfg.port, &cfg.port_mac);
	tab.cap = cfg.capacity;
	tab.nb = (uint32_t)((uint64_t)cfg.capacity * 20 / 7) + 1;
	tab.sess = rte_zmalloc("sessions", (size_t)tab.cap * sizeof(struct session), RTE_CACHE_LINE_SIZE);
	tab.bkt = rte_zmalloc("index", (size_t)tab.nb * sizeof(uint64_t), RTE_CACHE_LINE_SIZE);
	if (tab.sess == NULL || tab.bkt == NULL)
		die("no memory for the table", NULL);
	tab.seed = rte_get_tsc_cycles() | 1;
	tab.gen = 1;
	tab.timeout = 300 * rte_get_tsc_hz();
	tab.shift = 30;
}

int
main(int argc, char **argv)
{
	int n = rte_eal_init(argc, argv);
	if (n < 0)
		die("EAL init failed", rte_strerror(rte_errno));
	argc -= n, argv += n;
	parse_args(argc, argv);
	setup();
	unsigned lc = rte_get_next_lcore(-1, 1, 0);
	if (lc == RTE_MAX_LCORE)
		die("want two lcores (-l MAIN,WORKER)", NULL);
	rte_eal_remote_launch(worker, NULL, lc);
	setvbuf(stdout, NULL, _IOLBF, 0);
	char line[256];
	for (;;) {
		printf("cref> ");
		fflush(stdout);
		if (fgets(line, sizeof(line), stdin) == NULL)
			break;
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "start") == 0)
			running = true;
		else if (strcmp(line, "stop") == 0)
			running = false;
		else if (strcmp(line, "show port stats all") == 0)
			show_stats();
		else if (strcmp(line, "quit") == 0)
			break;
		else if (line[0] != 0)
			printf("cref: unknown command %s (start, show port stats all, stop, quit)\n", line);
	}
	running = false;
	quitting = true;
	rte_eal_mp_wait_lcore();
	rte_eth_dev_stop(cfg.port);
	rte_eal_cleanup();
	return 0;
}
