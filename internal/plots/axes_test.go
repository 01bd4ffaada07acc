package plots

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"gonum.org/v1/plot"
)

func labels(ticks []plot.Tick) (vals []float64) {
	for _, t := range ticks {
		if t.Label != "" {
			v, err := strconv.ParseFloat(t.Label, 64)
			if err != nil || math.Abs(v-t.Value) > 1e-9*math.Max(1, math.Abs(v)) {
				return nil // a label that does not say its value fails every caller
			}
			vals = append(vals, v)
		}
	}
	return vals
}

// Linear axes get 3..12 labels, evenly spaced, inside the range, each
// saying its own value; integer axes are labelled at integers only.
func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi  float64
		n       int
		integer bool
	}{
		{0.15, 0.30, 6, false}, {1.4, 2.35, 6, false}, {0, 1, 6, false}, {1, 1000, 8, true},
		{1, 7, 8, true}, {1, 4, 4, true}, {0.5, 1.5, 2, true}, {-3, 12345, 6, false}, {2.2, 2.2001, 6, false},
	} {
		ticks := niceTicks{N: tc.n, Integer: tc.integer}.Ticks(tc.lo, tc.hi)
		vals := labels(ticks)
		want := 3
		if tc.integer {
			want = min(3, int(math.Floor(tc.hi)-math.Ceil(tc.lo))+1)
		}
		if len(vals) < want || len(vals) > 12 {
			t.Errorf("[%v, %v]: %d labels %v", tc.lo, tc.hi, len(vals), vals)
			continue
		}
		for i, v := range vals {
			if v < tc.lo-1e-12 || v > tc.hi+1e-12 || tc.integer && v != math.Round(v) {
				t.Errorf("[%v, %v]: label %v out of range or not an integer", tc.lo, tc.hi, v)
			}
			if i > 1 && math.Abs((v-vals[i-1])-(vals[1]-vals[0])) > 1e-9*(tc.hi-tc.lo) {
				t.Errorf("[%v, %v]: labels not evenly spaced: %v", tc.lo, tc.hi, vals)
			}
		}
	}
}

// Every log range from a factor 1.5 to 1e8 gets at least two labels (the
// narrow sweep panels had none with gonum's LogTicks), and no more than 12.
func TestLogTicksAlwaysLabelled(t *testing.T) {
	for lo := 1e-6; lo < 1; lo *= 3.7 {
		for f := 1.5; f < 1e8; f *= 2.3 {
			vals := labels(logTicks{}.Ticks(lo, lo*f))
			if len(vals) < 2 || len(vals) > 12 {
				t.Errorf("[%g, %g]: labels %v", lo, lo*f, vals)
			}
		}
	}
}

// A short run's accuracies (0.16..0.29) fill the axis instead of a fifth of
// a 0..1 one; the range stays inside 0..1 and holds every point.
func TestAccuracyAxisFitsTheCurves(t *testing.T) {
	for _, epochs := range [][]Epoch{
		{{1, 0.165, 0.159}, {2, 0.235, 0.230}, {3, 0.270, 0.260}, {4, 0.265, 0.294}},
		{{1, 0.2, 0.2}},
		{{1, 0.97, 0.99}, {2, 1, 0.995}},
	} {
		p, _, err := accuracyPlot(epochs)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := 1.0, 0.0
		for _, e := range epochs {
			lo, hi = min(lo, e.TrainAcc, e.ValAcc), max(hi, e.TrainAcc, e.ValAcc)
		}
		if p.Y.Min > lo || p.Y.Max < hi || p.Y.Min < 0 || p.Y.Max > 1 || p.Y.Max-p.Y.Min > max(0.1, hi-lo)*1.3 {
			t.Errorf("%v: y axis %v..%v, data %v..%v", epochs, p.Y.Min, p.Y.Max, lo, hi)
		}
		if len(labels(p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max))) < 3 {
			t.Errorf("%v: fewer than 3 y labels", epochs)
		}
		if len(epochs) == 1 && !(p.X.Min < 1 && p.X.Max > 1) {
			t.Errorf("one epoch: x axis %v..%v", p.X.Min, p.X.Max)
		}
	}
}

// The loss chart's axes carry at least four labels each.
func TestLossAxesLabelled(t *testing.T) {
	for _, n := range []int{1, 7, 1000, 30000} {
		losses := make([]float64, n)
		for i := range losses {
			losses[i] = 2.3 - 0.8*float64(i)/float64(n) + 0.05*math.Sin(float64(i))
		}
		p, _, err := lossPlot(losses)
		if err != nil {
			t.Fatal(err)
		}
		nx, ny := len(labels(p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max))), len(labels(p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max)))
		if nx < min(4, n) || ny < 4 {
			t.Errorf("%d iterations: %d x labels, %d y labels", n, nx, ny)
		}
	}
}

// Every sweep panel has the same axes, holding every point, with labels on
// both.
func TestSweepPanelsShareAxes(t *testing.T) {
	points := []SweepPoint{
		{[]int{200, 100}, 2e-3, 0.1, 0.41},                             // a deeper net: a panel after the one-layer ones
		{[]int{100}, 1e-3, 0.2, 0.4}, {[]int{100}, 1.5e-3, 0.25, 0.45}, // a narrow panel
		{[]int{200}, 1e-4, 1e-3, 0.3}, {[]int{200}, 1e-2, 0.9, 0.5}, // a wide one
		{[]int{500}, 5e-4, 0.01, 0.42},
		{[]int{800}, 5e-4, 0, 0.42}, // reg 0: left out
	}
	panels, pal, err := sweepPlots(points)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, p := range panels {
		titles = append(titles, p.Title.Text)
	}
	if want := []string{"hidden 100", "hidden 200", "hidden 500", "hidden 200-100"}; !slices.Equal(titles, want) {
		t.Fatalf("panels %q, want %q", titles, want)
	}
	if pal.Min() != 0.3 || pal.Max() != 0.5 {
		t.Errorf("colour scale %v..%v, want the accuracies' 0.3..0.5", pal.Min(), pal.Max())
	}
	for i, p := range panels {
		if p.X.Min != panels[0].X.Min || p.X.Max != panels[0].X.Max || p.Y.Min != panels[0].Y.Min || p.Y.Max != panels[0].Y.Max {
			t.Errorf("panel %d: axes %v..%v x %v..%v, panel 0 %v..%v x %v..%v", i, p.X.Min, p.X.Max, p.Y.Min, p.Y.Max,
				panels[0].X.Min, panels[0].X.Max, panels[0].Y.Min, panels[0].Y.Max)
		}
		if p.X.Min > 1e-4 || p.X.Max < 1e-2 || p.Y.Min > 1e-3 || p.Y.Max < 0.9 {
			t.Errorf("panel %d does not hold every point: %v..%v x %v..%v", i, p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
		}
		if len(labels(p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max))) < 2 || len(labels(p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max))) < 2 {
			t.Errorf("panel %d has fewer than two labels on an axis", i)
		}
	}
}
