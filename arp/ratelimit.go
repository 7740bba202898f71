package arp

// TokenBucket limits a rate of events, such as ICMP errors a core originates
// (RFC 1812 §4.3.2.8, Linux icmp_ratelimit/icmp_msgs_burst). It holds up to
// burst tokens, gains one every 1/rate seconds and an event takes one. Time is
// the caller's monotonic clock in nanoseconds, passed in. A TokenBucket is a
// plain value owned by one goroutine (one per core): not safe for concurrent
// use, allocation-free.
type TokenBucket struct {
	interval int64 // nanoseconds per token
	burst    int64
	tokens   int64
	last     int64 // time up to which tokens have been credited
}

// NewTokenBucket returns a full bucket allowing perSecond events per second on
// average and bursts of burst events, starting at now. It panics unless both
// are positive and perSecond is at most 1e9.
func NewTokenBucket(perSecond, burst int, now int64) TokenBucket {
	if perSecond <= 0 || perSecond > 1e9 || burst <= 0 {
		panic("arp: NewTokenBucket needs 0 < perSecond <= 1e9 and burst > 0")
	}
	return TokenBucket{interval: 1e9 / int64(perSecond), burst: int64(burst), tokens: int64(burst), last: now}
}

// Allow reports whether an event at now is within the rate, taking a token if
// so. A clock that goes backwards credits nothing.
func (b *TokenBucket) Allow(now int64) bool {
	if b.tokens >= b.burst {
		b.last = now // a full bucket does not bank time
	} else if n := (now - b.last) / b.interval; n > 0 {
		if n >= b.burst-b.tokens {
			b.tokens, b.last = b.burst, now
		} else {
			b.tokens += n
			b.last += n * b.interval
		}
	}
	if b.tokens > 0 {
		b.tokens--
		return true
	}
	return false
}
