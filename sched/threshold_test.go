package sched

import "testing"

// TestThresholdThroughPick drives thresholds as the datapath does: each pick is
// followed by Conns.Add for the new connection, closes by Add(-1). The destination
// stops receiving at UThresh and returns only below the lower mark.
func TestThresholdThroughPick(t *testing.T) {
	tests := []struct {
		name   string
		u, l   uint32
		resume int32 // total at which destination 0 is picked again
	}{
		{"-x 4 -y 2", 4, 2, 1},
		{"-x 8 (3/4)", 8, 0, 5},
	}
	for _, tt := range tests {
		for _, k := range []Kind{RR, WRR, WLC, FO} {
			t.Run(tt.name+"/"+k.String(), func(t *testing.T) {
				c := NewConns(2, 64)
				ds := dests(10, 1) // 0 is preferred by fo and wlc, and gets most of wrr
				ds[0].UThresh, ds[0].LThresh = tt.u, tt.l
				s := mustService(t, k, 0, ds, c, 2)
				var held int32
				for n := range 200 {
					i := s.Pick(n%2, Key{})
					c.Add(n%2, ds[i].ID, 0, 1) // every new connection counts
					if i == 0 {
						held++
					}
				}
				if held != int32(tt.u) {
					t.Fatalf("destination 0 took %d connections, want UThresh %d", held, tt.u)
				}
				// Close one at a time; it is picked again only once below the mark.
				for held > 0 {
					c.Add(0, ds[0].ID, 0, -1)
					held--
					picked := false
					for range 40 { // enough for any scheduler to come round
						i := s.Pick(0, Key{})
						c.Add(0, ds[i].ID, 0, 1)
						if i == 0 {
							picked = true
							held++
							break
						}
					}
					if picked {
						if held-1 != tt.resume {
							t.Fatalf("picked again with %d connections, want %d", held-1, tt.resume)
						}
						return
					}
				}
				t.Fatal("never picked again")
			})
		}
	}
}
