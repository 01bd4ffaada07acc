package plots

import (
	"strings"
	"testing"
)

// Each filter is a tile scaled to its own range, in (F, C, K, K) order:
// channel 0 red, 1 green, 2 blue; the grid is square with a black pixel
// between tiles.
func TestFilterGrid(t *testing.T) {
	const f, k, scale = 5, 2, 3
	w := make([]float64, f*3*k*k)
	for u := range f {
		for ch := range 3 {
			for i := range k * k {
				w[((u*3+ch)*k*k)+i] = float64(u*100 + ch*10 + i)
			}
		}
	}
	img, err := FilterGrid(w, f, 3, k, scale)
	if err != nil {
		t.Fatal(err)
	}
	// 3 columns of 2-pixel tiles with 1 between: 8 weights, 24 pixels.
	if b := img.Bounds(); b.Dx() != 24 || b.Dy() != 24 {
		t.Fatalf("grid %v, want 24x24", b)
	}
	// Filter 4 is in row 1, column 1; its weight (r=1, q=0) is entry 2 of
	// each channel: 402, 412, 422 on a range 400..423.
	x, y := (1*(k+1)+0)*scale, (1*(k+1)+1)*scale
	got := img.RGBAAt(x+1, y+2)
	want := [3]uint8{22, 133, 244} // round(255 * 2/23), round(255 * 12/23), round(255 * 22/23)
	if got.R != want[0] || got.G != want[1] || got.B != want[2] || got.A != 255 {
		t.Errorf("pixel %v, want %v", got, want)
	}
	if gap := img.RGBAAt(k*scale, 0); gap.R != 0 || gap.A != 255 {
		t.Errorf("gap pixel %v, want opaque black", gap)
	}
	for _, c := range []struct {
		w       []float64
		f, c, k int
		want    string
	}{
		{w, f, 1, k, "takes 1 channels, not 3"},
		{w[:10], f, 3, k, "10 weights are not 5 filters"},
		{w, f, 3, k, "over 16384 pixels"},
	} {
		sc := scale
		if strings.Contains(c.want, "16384") {
			sc = 5000
		}
		if _, err := FilterGrid(c.w, c.f, c.c, c.k, sc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v", c.want, err)
		}
	}
}
