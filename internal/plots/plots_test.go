package plots

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
)

// A hand-made net of three hidden units: unit 0's weights count up
// 0..3071, unit 1's are all 0.5, unit 2's count down from 0 in steps of 2.
func handNet() *model.Net {
	net := model.Zeros(cifar.D, 3, cifar.Classes)
	for j := range cifar.D {
		net.Layers[0].W.Set(j, 0, float64(j))
		net.Layers[0].W.Set(j, 1, 0.5)
		net.Layers[0].W.Set(j, 2, -2*float64(j))
	}
	return net
}

func TestWeightGridPixels(t *testing.T) {
	for _, scale := range []int{1, 3} {
		img, err := WeightGrid(handNet(), scale)
		if err != nil {
			t.Fatal(err)
		}
		// ceil(sqrt(3)) = 2 tiles a row, 2 rows: 2*32 + 1 pixels a side.
		if b := img.Bounds(); b.Dx() != 65*scale || b.Dy() != 65*scale {
			t.Fatalf("scale %d: image %v, want %dx%d", scale, b, 65*scale, 65*scale)
		}
		at := func(x, y int) color.RGBA { return img.RGBAAt(x*scale+scale-1, y*scale+scale-1) }
		black := color.RGBA{A: 255}
		for r := range 32 {
			for c := range 32 {
				j := func(ch int) int { return ch*1024 + r*32 + c }
				// Unit 0, top left: its own range 0..3071 to 0..255.
				want0 := color.RGBA{R: uint8(math.Round(255 * float64(j(0)) / 3071)), G: uint8(math.Round(255 * float64(j(1)) / 3071)), B: uint8(math.Round(255 * float64(j(2)) / 3071)), A: 255}
				if got := at(c, r); got != want0 {
					t.Fatalf("scale %d: unit 0 pixel (%d,%d) = %v, want %v", scale, r, c, got, want0)
				}
				// Unit 1, top right after one pixel of padding: constant, so black.
				if got := at(33+c, r); got != black {
					t.Fatalf("unit 1 pixel (%d,%d) = %v, want black", r, c, got)
				}
				// Unit 2, bottom left: -2j over [-6142, 0].
				v := func(ch int) uint8 { return uint8(math.Round(255 * (float64(-2*j(ch)) + 6142) / 6142)) }
				if got, want := at(c, 33+r), (color.RGBA{R: v(0), G: v(1), B: v(2), A: 255}); got != want {
					t.Fatalf("unit 2 pixel (%d,%d) = %v, want %v", r, c, got, want)
				}
				// No fourth unit: black.
				if got := at(33+c, 33+r); got != black {
					t.Fatalf("empty tile pixel (%d,%d) = %v", r, c, got)
				}
			}
			// The padding row and column are black.
			if at(32, r) != black || at(r, 32) != black {
				t.Fatalf("padding at %d is not black", r)
			}
		}
		// Pixel (0,0) of unit 0 is its minimum (0), its last pixel's blue its maximum.
		if at(0, 0).R != 0 || at(31, 31).B != 255 {
			t.Errorf("unit 0 corners %v %v", at(0, 0), at(31, 31))
		}
	}
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestChartsArePNGsOfTheirSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	losses := make([]float64, 500)
	for i := range losses {
		losses[i] = 2.3*math.Exp(-float64(i)/200) + 0.1*rng.Float64()
	}
	epochs := []Epoch{{1, 0.2, 0.25}, {2, 0.3, 0.31}, {3, 0.35, 0.34}}
	conf := make([][]int, 10)
	for i := range conf {
		conf[i] = make([]int, 10)
		for j := range conf[i] {
			conf[i][j] = rng.IntN(20)
		}
		conf[i][i] = 60 + i
	}
	var points []SweepPoint
	for _, h := range []int{100, 500} {
		for range 5 {
			points = append(points, SweepPoint{Hidden: []int{h}, LR: math.Pow(10, -4+2*rng.Float64()), Reg: math.Pow(10, -3+3*rng.Float64()), ValAcc: 0.3 + 0.2*rng.Float64()})
		}
	}
	for _, tc := range []struct {
		name string
		draw func(*bytes.Buffer) error
		w, h int
	}{
		{"loss", func(b *bytes.Buffer) error { return Loss(b, losses) }, 768, 480},
		{"accuracy", func(b *bytes.Buffer) error { return Accuracy(b, epochs) }, 768, 480},
		{"confusion", func(b *bytes.Buffer) error { return Confusion(b, conf, cifar.DefaultClassNames) }, 730, 640},
		{"sweep", func(b *bytes.Buffer) error { return Sweep(b, points) }, 950, 430},
		{"sweep without points", func(b *bytes.Buffer) error { return Sweep(b, nil) }, 530, 430},
		{"weights", func(b *bytes.Buffer) error { return Weights(b, handNet(), 2) }, 130, 130},
	} {
		var b bytes.Buffer
		if err := tc.draw(&b); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		img := decode(t, b.Bytes())
		if got := img.Bounds(); got.Dx() != tc.w || got.Dy() != tc.h {
			t.Errorf("%s: %dx%d pixels, want %dx%d", tc.name, got.Dx(), got.Dy(), tc.w, tc.h)
		}
		// Something was drawn: not one flat colour.
		first := img.At(0, 0)
		flat := true
		for y := 0; y < img.Bounds().Dy() && flat; y += 7 {
			for x := 0; x < img.Bounds().Dx(); x += 7 {
				if img.At(x, y) != first {
					flat = false
					break
				}
			}
		}
		if flat {
			t.Errorf("%s: the image is one flat colour", tc.name)
		}
	}
}

func TestSmooth(t *testing.T) {
	s := Smooth([]float64{4, 4, 4}, 0.9)
	for _, v := range s {
		if math.Abs(v-4) > 1e-12 {
			t.Errorf("smoothing a constant gave %v", s)
		}
	}
	if s := Smooth([]float64{0, 10}, 0.5); math.Abs(s[1]-10.0*0.5/0.75) > 1e-12 {
		t.Errorf("Smooth = %v", s)
	}
}
