package nat

// The timer wheel of a Table. Slot s holds the sessions filed at ticks
// congruent to s; the cursor is the next tick Expire processes, and every
// linked session is filed at a tick in [cursor, cursor+slots), so a slot never
// mixes rounds. Deadlines beyond the span are filed in the last slot and
// re-filed when Expire reaches them.

func (t *Table) sentinel(tick int64) int32 { return int32(len(t.sess)) + int32(tick&t.slotMask) }

// linkAt files session i at tick (clamped to the span), at the tail of its slot.
func (t *Table) linkAt(i int32, tick int64) {
	if last := t.cursor + t.slotMask; tick > last {
		tick = last
	}
	t.sess[i].wheel = uint32(tick)
	h := t.sentinel(tick)
	p := t.link[h].prev
	t.link[i] = link{prev: p, next: h}
	t.link[p].next = i
	t.link[h].prev = i
}

func (t *Table) unlink(i int32) {
	l := t.link[i]
	t.link[l.prev].next = l.next
	t.link[l.next].prev = l.prev
}

// Touch sets session idx's deadline. Moving it later costs a store (Expire
// re-files the session lazily); moving it before its slot re-files it now,
// as LVS's mod_timer does when a state change shortens the timeout.
func (t *Table) Touch(idx int32, expires int64) { t.touch(&t.sess[idx], idx, expires) }

// touch is Touch for a caller that holds s = t.At(idx) already.
func (t *Table) touch(s *Session, idx int32, expires int64) {
	s.Expires = expires
	if int32(uint32(expires>>t.shift)-s.wheel) < 0 {
		t.refile(idx, expires)
	}
}

// refile moves session idx to the slot of an earlier deadline.
func (t *Table) refile(idx int32, expires int64) {
	t.unlink(idx)
	t.linkAt(idx, max(expires>>t.shift, t.cursor))
}

// Expire walks the wheel up to now, spending at most budget steps (a step is
// one session examined or one empty slot passed), and moves the indexes of
// sessions whose deadline has passed into out, at most len(out). Those
// sessions are unlinked from the wheel but still indexed: the caller releases
// what they hold and calls Delete for each. Sessions met before their
// deadline are re-filed. It returns how many indexes it wrote.
func (t *Table) Expire(now int64, budget int, out []int32) int {
	n := 0
	end := now >> t.shift
	for budget > 0 && n < len(out) && t.cursor <= end {
		budget--
		h := t.sentinel(t.cursor)
		i := t.link[h].next
		if i == h {
			t.cursor++
			continue
		}
		t.unlink(i)
		if exp := t.sess[i].Expires; exp > now {
			t.linkAt(i, max(exp>>t.shift, t.cursor+1))
			continue
		}
		t.link[i] = link{prev: i, next: i}
		out[n] = i
		n++
	}
	return n
}

// caughtUp reports whether Expire has processed every tick up to now.
func (t *Table) caughtUp(now int64) bool { return t.cursor > now>>t.shift }
