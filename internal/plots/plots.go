// Package plots draws nettrain's pictures as PNG: the loss per iteration,
// train and validation accuracy per epoch, the first-layer weights as a grid
// of colour tiles (cs231n's show_net_weights), the confusion matrix as a
// heat map, and a sweep's validation accuracy over learning rate and
// regularisation. Charts use gonum.org/v1/plot; the weight grid is drawn
// pixel by pixel with the standard library's image packages.
package plots

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/model"
)

// Chart sizes: at vgimg's 96 dpi, 768x480 and 640x640 pixels.
const (
	chartW, chartH = 8 * vg.Inch, 5 * vg.Inch
	squareSide     = 640 * vg.Inch / 96
)

// Epoch is what the accuracy chart needs of an epoch record.
type Epoch struct {
	Epoch    int
	TrainAcc float64
	ValAcc   float64
}

// WriteFile writes a PNG made by draw to path atomically.
func WriteFile(path string, draw func(io.Writer) error) error {
	if err := fsutil.WriteAtomic(path, draw); err != nil {
		return fmt.Errorf("plots: %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Smooth returns the exponential moving average of v with the given
// weight on the past (0.98 makes a curve readable over thousands of
// iterations), debiased at the start as in Adam.
func Smooth(v []float64, beta float64) []float64 {
	out := make([]float64, len(v))
	var avg float64
	for i, x := range v {
		avg = beta*avg + (1-beta)*x
		out[i] = avg / (1 - math.Pow(beta, float64(i+1)))
	}
	return out
}

// Loss draws the loss of every iteration (raw, light) and smoothed.
func Loss(w io.Writer, losses []float64) error {
	p, leg, err := lossPlot(losses)
	if err != nil {
		return err
	}
	return writePNG(w, chartW, chartH, func(dc draw.Canvas) { drawWithLegend(dc, p, leg) })
}

func lossPlot(losses []float64) (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	leg := plot.NewLegend()
	p.Title.Text = "Training loss"
	p.X.Label.Text = "iteration"
	p.Y.Label.Text = "loss"
	p.X.Tick.Marker = niceTicks{N: 8, Integer: true}
	p.Y.Tick.Marker = niceTicks{N: 6}
	raw, smooth := make(plotter.XYs, len(losses)), make(plotter.XYs, len(losses))
	for i, l := range Smooth(losses, 0.98) {
		raw[i] = plotter.XY{X: float64(i + 1), Y: losses[i]}
		smooth[i] = plotter.XY{X: float64(i + 1), Y: l}
	}
	lr, err := plotter.NewLine(raw)
	if err != nil {
		return nil, leg, err
	}
	lr.Color = color.RGBA{R: 150, G: 180, B: 230, A: 255}
	ls, err := plotter.NewLine(smooth)
	if err != nil {
		return nil, leg, err
	}
	ls.Color = color.RGBA{R: 20, G: 60, B: 160, A: 255}
	ls.Width = vg.Points(2)
	p.Add(plotter.NewGrid(), lr, ls)
	leg.Add("per iteration", lr)
	leg.Add("smoothed", ls)
	if len(losses) == 1 {
		p.X.Min, p.X.Max = 0.5, 1.5
	}
	p.Y.Min, p.Y.Max = padRange(p.Y.Min, p.Y.Max, 0.03, 0.02, math.Inf(-1), math.Inf(1))
	return p, leg, nil
}

// Accuracy draws train and validation accuracy per epoch.
func Accuracy(w io.Writer, epochs []Epoch) error {
	p, leg, err := accuracyPlot(epochs)
	if err != nil {
		return err
	}
	return writePNG(w, chartW, chartH, func(dc draw.Canvas) { drawWithLegend(dc, p, leg) })
}

// accuracyPlot fits the y axis to the curves (padded, at least 0.1 wide,
// within 0..1): accuracies of a short run live between 0.15 and 0.3, a
// 0..1 axis squashes them flat.
func accuracyPlot(epochs []Epoch) (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	leg := plot.NewLegend()
	p.Title.Text = "Classification accuracy"
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "accuracy"
	p.X.Tick.Marker = niceTicks{N: min(max(len(epochs), 2), 10), Integer: true}
	p.Y.Tick.Marker = niceTicks{N: 6}
	train, val := make(plotter.XYs, len(epochs)), make(plotter.XYs, len(epochs))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, e := range epochs {
		train[i] = plotter.XY{X: float64(e.Epoch), Y: e.TrainAcc}
		val[i] = plotter.XY{X: float64(e.Epoch), Y: e.ValAcc}
		lo, hi = min(lo, e.TrainAcc, e.ValAcc), max(hi, e.TrainAcc, e.ValAcc)
	}
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		c    color.Color
	}{{"train (minibatch)", train, color.RGBA{R: 30, G: 100, B: 200, A: 255}}, {"validation", val, color.RGBA{R: 220, G: 90, B: 20, A: 255}}} {
		if len(s.xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, leg, err
		}
		l.Color, pts.Color = s.c, s.c
		l.Width = vg.Points(2)
		p.Add(l, pts)
		leg.Add(s.name, l, pts)
	}
	if len(epochs) == 0 {
		lo, hi = 0, 1
	}
	p.Y.Min, p.Y.Max = padRange(lo, hi, 0.08, 0.1, 0, 1)
	if len(epochs) > 0 {
		p.X.Min, p.X.Max = padRange(p.X.Min, p.X.Max, 0.03, 1, math.Inf(-1), math.Inf(1))
	}
	return p, leg, nil
}

// WeightGrid draws the first-layer weights as cs231n's show_net_weights
// does: each first hidden layer unit's column of W1 as a 32x32 colour
// tile, rescaled on its own to 0..255, the tiles in a square grid of
// ceil(sqrt(H1)) a side, one pixel of black between them; then every pixel
// enlarged scale times. The layers above W1 do not see the image.
// It returns an error for a net that does not take CIFAR-10 images, or
// whose grid would be over maxGridSide pixels a side.
func WeightGrid(net *model.Net, scale int) (*image.RGBA, error) {
	sizes := net.Sizes()
	d, h := sizes[0], sizes[1]
	if d != cifar.D {
		return nil, fmt.Errorf("plots: the net takes %d inputs, not CIFAR-10's %d: its weights are not images", d, cifar.D)
	}
	const side, pad = cifar.Width, 1
	cols := int(math.Ceil(math.Sqrt(float64(h))))
	rows := cols // square, as cs231n's visualize_grid
	size := func(n int) int { return (n*side + (n-1)*pad) * scale }
	if scale < 1 || size(cols) > maxGridSide {
		return nil, fmt.Errorf("plots: %d first-layer units at scale %d make a grid over %d pixels a side", h, scale, maxGridSide)
	}
	img := image.NewRGBA(image.Rect(0, 0, size(cols), size(rows)))
	for i := range img.Pix {
		if i%4 == 3 {
			img.Pix[i] = 255 // opaque black background
		}
	}
	w1 := net.Layers[0].W.RawMatrix()
	plane := cifar.Height * cifar.Width
	for u := range h {
		lo, hi := math.Inf(1), math.Inf(-1)
		for j := range d {
			v := w1.Data[j*w1.Stride+u]
			lo, hi = min(lo, v), max(hi, v)
		}
		x0, y0 := (u%cols)*(side+pad), (u/cols)*(side+pad)
		for r := range cifar.Height {
			for c := range cifar.Width {
				var px [3]uint8
				for ch := range 3 {
					v := w1.Data[(ch*plane+r*cifar.Width+c)*w1.Stride+u]
					if hi > lo {
						px[ch] = uint8(math.Round(255 * (v - lo) / (hi - lo)))
					}
				}
				for dy := range scale {
					for dx := range scale {
						img.SetRGBA((x0+c)*scale+dx, (y0+r)*scale+dy, color.RGBA{R: px[0], G: px[1], B: px[2], A: 255})
					}
				}
			}
		}
	}
	return img, nil
}

// maxGridSide bounds the weight grid: 16384 pixels a side is 1 GiB of RGBA,
// and some 250,000 units at scale 1.
const maxGridSide = 16384

// Weights writes WeightGrid(net, scale) as PNG.
func Weights(w io.Writer, net *model.Net, scale int) error {
	img, err := WeightGrid(net, scale)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// confusionGrid is a confusion matrix as plotter.GridXYZ: column c is the
// predicted class, row r the true class counted from the top.
type confusionGrid [][]int

func (g confusionGrid) Dims() (int, int)   { return len(g), len(g) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g[len(g)-1-r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// Confusion draws the confusion matrix (rows true class, columns
// predicted) as a labelled heat map with the count in each cell and the
// colour scale beside it.
func Confusion(w io.Writer, confusion [][]int, classes []string) error {
	n := len(confusion)
	p := plot.New()
	p.Title.Text = "Confusion matrix"
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	pal := moreland.Kindlmann()
	top := 1.0
	for _, row := range confusion {
		for _, v := range row {
			top = max(top, float64(v))
		}
	}
	pal.SetMin(0)
	pal.SetMax(top)
	hm := plotter.NewHeatMap(confusionGrid(confusion), pal.Palette(256))
	hm.Min, hm.Max = 0, top
	p.Add(hm)
	var labels plotter.XYLabels
	for r, row := range confusion {
		for c, v := range row {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			labels.Labels = append(labels.Labels, strconv.Itoa(v))
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i, r := range labels.XYs {
		v := float64(confusion[n-1-int(r.Y)][int(r.X)])
		l.TextStyle[i].Color = color.White
		if v > 0.6*top {
			l.TextStyle[i].Color = color.Black
		}
		l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
	}
	p.Add(l)
	names := classes
	p.NominalX(names...)
	rev := slices.Clone(names)
	slices.Reverse(rev)
	p.NominalY(rev...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	bar := colorBar(pal, "images")
	bar.Title.Text = " " // the same top margin as the matrix
	barW := pixels(90)
	return writePNG(w, squareSide+barW, squareSide, func(dc draw.Canvas) {
		p.Draw(draw.Crop(dc, 0, -barW, 0, 0))
		// The bar spans the matrix's rows: above the rotated class names.
		bar.Draw(draw.Crop(dc, squareSide+pixels(10), 0, pixels(78), 0))
	})
}

// SweepPoint is one trial of a sweep.
type SweepPoint struct {
	Hidden []int // widths of the hidden layers
	LR     float64
	Reg    float64
	ValAcc float64
}

// Sweep draws the validation accuracy of a sweep's trials over learning
// rate and regularisation, log axes, one panel per net shape, each point
// coloured by its accuracy and labelled with it, and the colour scale on
// the right. Every panel has the same axes and colours, so panels compare.
// Points with reg 0 cannot sit on a log axis and are left out.
func Sweep(w io.Writer, points []SweepPoint) error {
	panels, pal, err := sweepPlots(points)
	if err != nil {
		return err
	}
	panel, barW, top := pixels(420), pixels(110), pixels(10)
	width, height := panel*vg.Length(len(panels))+barW, panel+top
	bar := colorBar(pal, "validation accuracy")
	bar.Title.Text = " "
	return writePNG(w, width, height, func(dc draw.Canvas) {
		main := draw.Crop(dc, 0, -barW, 0, -top)
		canvases := plot.Align([][]*plot.Plot{panels}, draw.Tiles{Rows: 1, Cols: len(panels)}, main)
		for i, p := range panels {
			p.Draw(canvases[0][i])
		}
		// Level with the panels' data areas: below the title, above the
		// axis labels and tick labels.
		bar.Draw(draw.Crop(dc, width-barW+pixels(12), 0, pixels(36), -top-pixels(8)))
	})
}

// sweepPlots returns one panel per net shape (hidden layers), all with the
// same axis ranges, and the colour map they share.
func sweepPlots(points []SweepPoint) ([]*plot.Plot, palette.DivergingColorMap, error) {
	byHidden := map[string][]SweepPoint{}
	shape := map[string][]int{}
	lo, hi := math.Inf(1), math.Inf(-1)
	var lrs, regs []float64
	for _, pt := range points {
		if pt.LR > 0 && pt.Reg > 0 {
			key := fmt.Sprint(pt.Hidden)
			byHidden[key], shape[key] = append(byHidden[key], pt), pt.Hidden
			lo, hi = min(lo, pt.ValAcc), max(hi, pt.ValAcc)
			lrs, regs = append(lrs, pt.LR), append(regs, pt.Reg)
		}
	}
	hiddens := make([]string, 0, len(byHidden))
	for h := range byHidden {
		hiddens = append(hiddens, h)
	}
	// Shallower nets first, then by width, layer by layer.
	sort.Slice(hiddens, func(i, j int) bool {
		a, b := shape[hiddens[i]], shape[hiddens[j]]
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return slices.Compare(a, b) < 0
	})
	if len(hiddens) == 0 {
		hiddens = []string{""}
		lo, hi = 0, 1
	}
	if !(hi > lo) {
		lo, hi = lo-0.01, hi+0.01
	}
	pal := moreland.SmoothBlueRed()
	pal.SetMin(lo)
	pal.SetMax(hi)
	// Shared log ranges: a factor of 1.5 of room below and above, 2.5 to
	// the right for the labels, and at least a factor of 10 in all.
	logRange := func(v []float64, right float64) (float64, float64) {
		a, b := slices.Min(v), slices.Max(v)
		if b/a < 10 {
			m := math.Sqrt(a * b)
			a, b = min(a, m/math.Sqrt(10)), max(b, m*math.Sqrt(10))
		}
		return a / 1.5, b * right
	}
	var xmin, xmax, ymin, ymax float64
	if len(lrs) > 0 {
		xmin, xmax = logRange(lrs, 2.5)
		ymin, ymax = logRange(regs, 1.5)
	}

	var panels []*plot.Plot
	for _, h := range hiddens {
		p := plot.New()
		p.Title.Text = "hidden " + dashed(shape[h])
		if h == "" {
			p.Title.Text = "no trials to show"
		}
		p.X.Label.Text = "learning rate"
		p.Y.Label.Text = "regularisation"
		pts := byHidden[h]
		if len(pts) > 0 {
			p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
			p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
			xys := make(plotter.XYs, len(pts))
			var labels plotter.XYLabels
			for i, pt := range pts {
				xys[i] = plotter.XY{X: pt.LR, Y: pt.Reg}
				labels.XYs = append(labels.XYs, xys[i])
				labels.Labels = append(labels.Labels, fmt.Sprintf("%.3f", pt.ValAcc))
			}
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, nil, err
			}
			sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
				c, err := pal.At(pts[i].ValAcc)
				if err != nil {
					c = color.Gray{Y: 128}
				}
				return draw.GlyphStyle{Color: c, Radius: vg.Points(6), Shape: draw.CircleGlyph{}}
			}
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return nil, nil, err
			}
			l.Offset = vg.Point{X: vg.Points(7), Y: vg.Points(-3)}
			p.Add(plotter.NewGrid(), sc, l)
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
		}
		panels = append(panels, p)
	}
	return panels, pal, nil
}

// dashed writes layer widths as the literature does: 1000-500.
func dashed(h []int) string {
	s := make([]string, len(h))
	for i, v := range h {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, "-")
}
