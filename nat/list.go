package nat

// AppendSessions appends copies of up to max live sessions of the core's table
// to dst (for `ipvsadm -L -c`). Like Process, it must run on the core's own
// worker (lcore.Worker.Exec), never concurrently with it.
func (c *Core) AppendSessions(dst []Session, max int) []Session {
	t := c.tab
	for i := range t.sess {
		if len(dst) >= max {
			break
		}
		if t.link[i].prev >= 0 {
			dst = append(dst, t.sess[i])
		}
	}
	return dst
}
