package lab

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Summary
	}{
		{[]float64{3, 1, 2}, Summary{2, 1, 3, 3}},
		{[]float64{4, 1, 2, 3}, Summary{2.5, 1, 4, 4}},
		{[]float64{5, math.NaN()}, Summary{5, 5, 5, 1}},
	} {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) || s.N != 0 {
		t.Errorf("empty: %+v", s)
	}
}

func TestSlope(t *testing.T) {
	x := []float64{0, 1, 2, 3}
	y := []float64{1, 3, 5, 7}
	if s := Slope(x, y); math.Abs(s-2) > 1e-12 {
		t.Fatalf("slope %v, want 2", s)
	}
	if s := Slope([]float64{1, 1}, []float64{1, 2}); !math.IsNaN(s) {
		t.Fatalf("degenerate slope %v", s)
	}
}
