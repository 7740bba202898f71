// Package keepalived reads keepalived.conf and translates its virtual
// servers to fngw [[service]] tables: `gw import keepalived FILE` for
// operators moving an LVS/keepalived (or DPVS) pair to fngw. It is pure Go
// and needs no gateway.
//
// The parser follows keepalived 2.2's: blocks in { } (a brace is a token
// of its own wherever it is), comments from '#' or '!' outside double
// quotes ("\#" and "\!" stand for the characters), "…" quoted words,
// include (and includer/includem/includew/includeb/includea) with glob and
// brace patterns relative to the including file, "$NAME=VALUE" parameters
// with multi-line values ('\' at the end of a line) and their $NAME /
// ${NAME} substitution (${_PWD}, ${_INSTANCE}, ${_HASH}, ${_BANG}
// predefined), "@ID"/"@^ID" conditional lines for a config-id
// (Options.ConfigID, keepalived -i). ~SEQ and ~LST lines are listed, not
// expanded. Every directive keeps its file and line; one produced by a
// parameter has the line of the $NAME.
//
// The translation (keepalived option → fngw key; every other option is
// listed with its file:line and the reason, never dropped silently):
//
//	virtual_server ADDR [PORT]          [[service]] vip "ADDR:PORT" (no PORT: port 0, which needs persistence)
//	virtual_server fwmark N             listed: its iptables marks are not in the file ([[mark]] by hand)
//	virtual_server group G              listed: not supported yet
//	protocol TCP|UDP                    proto (default tcp); SCTP: listed, the service left out
//	lb_algo / lvs_sched                 sched (keepalived's default wlc written); others (conhash): listed, wlc written
//	sh-port sh-fallback mh-port         flags; flag-1 is sh-fallback/mh-fallback, flag-2 sh-port/mh-port
//	  mh-fallback flag-1 flag-2
//	lb_kind / lvs_method                [[service.dest]] fwd: NAT masq, DR route, TUN tunnel (IPIP), FNAT fullnat;
//	                                    the virtual_server's is the real servers' default (keepalived's: NAT)
//	persistence_timeout [N]             persistent N; without N keepalived's 360 (not ipvsadm's 300)
//	persistence_granularity MASK        netmask (and persistent 360 when there is no timeout, as keepalived)
//	ops                                 ops = true
//	laddr_group_name G                  laddrs from DPVS's local_address_group G: "ADDR dev DEV", ranges
//	                                    (198.18.2.100-110) expanded; FULLNAT without it: a commented
//	                                    placeholder, and listed
//	quorum                              quorum
//	hysteresis                          listed unless 0
//	sorry_server ADDR [PORT]            sorry_server "ADDR:PORT" (PORT defaults to the service's)
//	alpha                               alpha = true (destinations start down); a real server's or
//	                                    checker's differing alpha: listed
//	real_server notify_up/notify_down   the service's notify_up/notify_down when every real server runs
//	                                    the same script, else listed; quorum_up/quorum_down: listed
//	real_server ADDR [PORT]             [[service.dest]] addr "ADDR:PORT"; DR and TUN use the service's
//	                                    port (LVS does), the check keeps the real server's
//	weight, uthreshold, lthreshold      weight (default 1), u_threshold, l_threshold
//	inhibit_on_failure                  check on_failure "inhibit" (else "remove")
//	TCP_CHECK HTTP_GET SSL_GET          check type tcp, http, https, udp, dns, misc: [service.check] when every
//	  UDP_CHECK DNS_CHECK MISC_CHECK    real server has the same, else [service.dest.check]; one checker per
//	                                    real server (further ones listed)
//	delay_loop                          interval (keepalived's default 60s written)
//	connect_timeout / misc_timeout      timeout (defaults 5s / delay_loop written)
//	retry / nb_get_retry                fall = retry + 1 (defaults: retry 1, DNS_CHECK 3, MISC_CHECK 0)
//	(none)                              rise = 1: one success brings a server back
//	delay_before_retry                  listed when it differs from delay_loop
//	warmup                              listed
//	connect_port, bindto                port, source; connect_ip: listed unless the real server's address
//	url { path status_code digest       path, expect_status (ranges expanded), digest, expect_body_regex;
//	      regex }                       one url (further urls listed)
//	UDP_CHECK payload / require_reply   payload / expect, hex digits (keepalived's HEX_STR normalised)
//	DNS_CHECK type / name               qtype / name (defaults SOA and "." written)
//	MISC_CHECK misc_path                command
//	global_defs, vrrp_*, static_*       notes: not load balancing (VRRP stays with keepalived)
//
// Health semantics: keepalived declares a real server down when a check
// fails and then its retries (retry of them, delay_before_retry apart)
// fail too: retry+1 failures in a row, which is fall. It brings it back on
// the first success: rise 1. fngw checks every interval, failing or not,
// so detection takes (fall-1) intervals instead of retry delay_before_retry
// delays; the two agree when delay_before_retry equals delay_loop, and a
// different one is listed. keepalived's alpha starts every real server
// down until its first successful check; inhibit_on_failure keeps a failed
// server with weight 0 (its connections continue) instead of removing it.
//
// Files:
//
//	parse.go    the reader: files, includes, comments, quotes, parameters, conditions; the Directive tree
//	convert.go  Convert: virtual_server and real_server blocks and their checkers to Services, Items
//	model.go    Service, Dest, Check (the fngw keys), Item (what was not translated)
//	toml.go     Import (parse and convert a file), WriteTOML
package keepalived
