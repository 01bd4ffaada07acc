package plots

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// niceTicks labels about N round values (1, 2, 2.5 or 5 times a power of
// ten apart) with minor ticks between; with Integer the step is at least 1,
// for iterations and epochs. gonum's default gives two or three labels an
// axis, too few to read a value off.
type niceTicks struct {
	N       int
	Integer bool
}

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step, minor := niceStep((hi - lo) / float64(max(t.N, 2)))
	if t.Integer && step < 1 {
		step, minor = 1, 1
	}
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if s := step * math.Pow(10, float64(prec)); math.Abs(s-math.Round(s)) > 1e-6 {
		prec++ // 2.5, 0.25
	}
	var ticks []plot.Tick
	first := math.Ceil(lo/minor-1e-9) * minor
	per := int(math.Round(step / minor))
	for i := 0; ; i++ {
		v := first + float64(i)*minor
		if v > hi+minor*1e-9 {
			break
		}
		k := int(math.Round(v / minor))
		if k%per == 0 {
			v = float64(k/per) * step // exact multiples, no drift
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		} else {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// niceStep returns the round step (1, 2, 2.5 or 5 times a power of ten)
// nearest above raw, and the step of the minor ticks between.
func niceStep(raw float64) (step, minor float64) {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p, p / 5
	case f <= 2:
		return 2 * p, p / 2
	case f <= 2.5:
		return 2.5 * p, p / 2
	case f <= 5:
		return 5 * p, p
	default:
		return 10 * p, 2 * p
	}
}

// logTicks labels a log axis so that every range gets labels: each power of
// ten over two decades or more, 1, 2 and 5 times them over one to two, and
// round linear steps (niceTicks) over less than a decade. gonum's LogTicks
// labels powers of ten only, leaving a narrow range with none.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}}
	}
	labelled := map[int]bool{1: true}
	switch span := math.Log10(hi / lo); {
	case span < 1:
		return niceTicks{N: 4}.Ticks(lo, hi)
	case span < 2:
		labelled[2], labelled[5] = true, true
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// padRange returns [lo, hi] widened by frac of its width on each side, at
// least minWidth wide in all, and clamped to [floor, ceil].
func padRange(lo, hi, frac, minWidth, floor, ceil float64) (float64, float64) {
	if w := hi - lo; w < minWidth {
		mid := (lo + hi) / 2
		lo, hi = mid-minWidth/2, mid+minWidth/2
	}
	w := hi - lo
	return max(floor, lo-frac*w), min(ceil, hi+frac*w)
}

// pixels is a length in pixels at vgimg's 96 dpi.
func pixels(n float64) vg.Length { return vg.Length(n) * vg.Inch / 96 }

// drawWithLegend draws p with the legend leg to the right of its frame,
// outside the data, top-aligned with it.
func drawWithLegend(dc draw.Canvas, p *plot.Plot, leg plot.Legend) {
	leg.Top, leg.Left = true, true
	lw := leg.Rectangle(dc).Size().X + pixels(24)
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	top := p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding + pixels(6)
	leg.Draw(draw.Crop(dc, dc.Size().X-lw+pixels(12), 0, 0, -top))
}

// colorBar is a plot that is only a vertical colour scale of cm, labelled.
func colorBar(cm palette.ColorMap, label string) *plot.Plot {
	p := plot.New()
	p.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	p.HideX()
	p.Y.Label.Text = label
	p.Y.Tick.Marker = niceTicks{N: 6}
	return p
}

// writePNG encodes the image of width x height that draw paints.
func writePNG(w interface{ Write([]byte) (int, error) }, width, height vg.Length, paint func(dc draw.Canvas)) error {
	img := vgimg.New(width, height)
	paint(draw.New(img))
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
