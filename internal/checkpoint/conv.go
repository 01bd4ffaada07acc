package checkpoint

import (
	"archive/zip"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
)

// A convolutional net's checkpoint (Checkpoint.Conv) holds, besides mean
// and meta, the string array "arch" (the net as --arch writes it) and each
// parameter by its name and shape: a convolution's Wk (F, C, K, K) and bk
// (F), an affine layer's Wk (D, M) and bk (M), and a batch norm's gammak,
// betak, running_meank and running_vark (C), k counting the layers with
// weights. The mean image is subtracted before the net (it cannot be folded
// into a padded convolution).

// Inputs returns the numbers of an image the checkpoint's net takes,
// whichever kind of net it is.
func (ck *Checkpoint) Inputs() int {
	if ck.Conv != nil {
		return ck.Conv.In.Size()
	}
	return ck.Net.Inputs()
}

// Classes returns the classes the checkpoint's net scores.
func (ck *Checkpoint) Classes() int {
	if ck.Conv != nil {
		return ck.Conv.Classes()
	}
	return ck.Net.Classes()
}

// Probabilities returns the softmax of the class scores of the rows x (the
// mean image subtracted), in float64, whichever kind of net it is.
func (ck *Checkpoint) Probabilities(x []float64) []float64 {
	if ck.Conv != nil {
		return ck.Conv.Probabilities(nil, x, len(x)/ck.Conv.In.Size())
	}
	return ck.Net.Probabilities(nil, nil, x)
}

// writeConv writes the conv net's arrays with put.
func writeConv(put func(string, any) error, net *layers.Net[float64]) error {
	if err := put("arch", net.Arch.String()); err != nil {
		return err
	}
	for _, p := range net.Params() {
		if err := put(p.Name, shaped(p.V, p.Shape)); err != nil {
			return err
		}
	}
	for _, s := range net.Stats() {
		if err := put(s.Name, s.V); err != nil {
			return err
		}
	}
	return nil
}

// shaped returns v as a Go array of the given shape ([F][C][K][K]float64),
// which npy writes with that shape.
func shaped(v []float64, shape []int) any {
	if len(shape) == 1 {
		return v
	}
	t := reflect.TypeFor[float64]()
	for i := len(shape) - 1; i >= 0; i-- {
		t = reflect.ArrayOf(shape[i], t)
	}
	a := reflect.New(t)
	copy(unsafe.Slice((*float64)(a.UnsafePointer()), len(v)), v)
	return a.Elem().Interface()
}

// readConv builds the net of the arch string in files and reads its
// arrays, refusing each that is missing, of the wrong rank or shape, not
// finite, or (a running variance) not positive, by its name.
func readConv(files map[string]*zip.File, size int64, read func(name string, dims int) ([]float64, []int, error)) (*layers.Net[float64], error) {
	s, err := readString(files["arch.npy"], size)
	if err != nil {
		return nil, fmt.Errorf("array \"arch\" %w", err)
	}
	a, err := layers.ParseArch(s)
	if err != nil {
		return nil, fmt.Errorf("its arch %q %v", s, err)
	}
	classes := 0 // the last affine layer's units
	for _, l := range a.Layers {
		if l.Kind == "fc" {
			classes = l.N
		}
	}
	net, err := layers.Build[float64](a, layers.Shape{C: 3, H: cifar.Width, W: cifar.Width}, classes, nil)
	if err != nil {
		return nil, fmt.Errorf("its arch %q: %v", s, err)
	}
	fill := func(name string, dst []float64, shape []int) error {
		v, got, err := read(name, len(shape))
		if err != nil {
			return err
		}
		if !slices.Equal(got, shape) {
			return fmt.Errorf("array %q has shape %v, want %v for the arch %s", name, got, shape, s)
		}
		copy(dst, v)
		return nil
	}
	for _, p := range net.Params() {
		if err := fill(p.Name, p.V, p.Shape); err != nil {
			return nil, err
		}
	}
	for _, st := range net.Stats() {
		if err := fill(st.Name, st.V, []int{len(st.V)}); err != nil {
			return nil, err
		}
		if strings.HasPrefix(st.Name, "running_var") {
			for i, v := range st.V {
				if !(v > 0) {
					return nil, fmt.Errorf("array %q has %v at %d: a running variance must be positive", st.Name, v, i)
				}
			}
		}
	}
	return net, nil
}

// isConvCore reports whether name is one of a conv checkpoint's own arrays.
func isConvCore(name string) bool {
	if name == "arch" || name == "mean" || name == "meta" {
		return true
	}
	if _, ok := layerIndex(name); ok {
		return true
	}
	for _, prefix := range []string{"running_mean", "running_var"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if _, ok := layerIndex("W" + rest); ok {
				return true
			}
		}
	}
	return false
}

// readConvCheckpoint reads a convolutional net's checkpoint.
func readConvCheckpoint(files map[string]*zip.File, size int64, read func(string, int) ([]float64, []int, error)) (*Checkpoint, error) {
	net, err := readConv(files, size, read)
	if err != nil {
		return nil, err
	}
	mean, sm, err := read("mean", 1)
	if err != nil {
		return nil, err
	}
	if sm[0] != net.In.Size() {
		return nil, fmt.Errorf("mean has length %d, want %d (3x32x32)", sm[0], net.In.Size())
	}
	ck := &Checkpoint{Conv: net, Mean: mean}
	return ck, readRest(ck, files, size, isConvCore)
}
