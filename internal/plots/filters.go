package plots

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
)

// FilterGrid draws a convolution's filters, w of shape (f, 3, k, k) as
// PyTorch and the checkpoint hold them, as a square grid of k x k colour
// tiles, each scaled to 0..255 by its own range (cs231n's visualize_grid),
// every weight a scale x scale block, on black, a pixel between tiles.
func FilterGrid(w []float64, f, c, k, scale int) (*image.RGBA, error) {
	if c != 3 {
		return nil, fmt.Errorf("plots: the first convolution takes %d channels, not 3: its filters are not colour images", c)
	}
	if len(w) != f*c*k*k || f < 1 || k < 1 {
		return nil, fmt.Errorf("plots: %d weights are not %d filters of 3x%dx%d", len(w), f, k, k)
	}
	const pad = 1
	cols := int(math.Ceil(math.Sqrt(float64(f))))
	size := (cols*k + (cols-1)*pad) * scale
	if scale < 1 || size > maxGridSide {
		return nil, fmt.Errorf("plots: %d filters of %dx%d at scale %d make a grid over %d pixels a side", f, k, k, scale, maxGridSide)
	}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	for u := range f {
		tile := w[u*c*k*k:][:c*k*k]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range tile {
			lo, hi = min(lo, v), max(hi, v)
		}
		x0, y0 := (u%cols)*(k+pad), (u/cols)*(k+pad)
		for r := range k {
			for q := range k {
				var px [3]uint8
				for ch := range 3 {
					if v := tile[(ch*k+r)*k+q]; hi > lo {
						px[ch] = uint8(math.Round(255 * (v - lo) / (hi - lo)))
					}
				}
				for dy := range scale {
					for dx := range scale {
						img.SetRGBA((x0+q)*scale+dx, (y0+r)*scale+dy, color.RGBA{R: px[0], G: px[1], B: px[2], A: 255})
					}
				}
			}
		}
	}
	return img, nil
}

// Filters writes FilterGrid as PNG, each tile about 48 pixels a side.
func Filters(w io.Writer, weights []float64, f, c, k int) error {
	img, err := FilterGrid(weights, f, c, k, max(1, 48/k))
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}
