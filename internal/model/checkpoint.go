package model

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"codeberg.org/sbinet/npyio/npz"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/fsutil"
)

// Checkpoint is a trained net with what it needs to be evaluated.
//
// On disk it is one .npz file that numpy.load opens: float64 arrays W1 (D,H),
// b1 (H), W2 (H,C), b2 (C) and mean (D), the training mean image, plus meta,
// a unicode scalar holding JSON text (the run's config and results). Meta is
// optional on load, so a model exported from numpy with the five arrays loads
// and evaluates.
type Checkpoint struct {
	Net  *Net
	Mean []float64       // (D) mean image subtracted from every input
	Meta json.RawMessage // JSON object, or nil
}

// Save writes ck to path atomically.
func Save(path string, ck *Checkpoint) error {
	d, _, _ := ck.Net.Dims()
	if len(ck.Mean) != d {
		panic("model: Save: mean has the wrong length")
	}
	err := fsutil.WriteAtomic(path, func(w io.Writer) error {
		zw := npz.NewWriter(w)
		arrays := []struct {
			name string
			v    any
		}{
			{"W1", ck.Net.W1}, {"b1", ck.Net.B1}, {"W2", ck.Net.W2}, {"b2", ck.Net.B2}, {"mean", ck.Mean},
		}
		for _, a := range arrays {
			if err := zw.Write(a.name+".npy", a.v); err != nil {
				return err
			}
		}
		if ck.Meta != nil {
			if err := zw.Write("meta.npy", string(ck.Meta)); err != nil {
				return err
			}
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("model: saving %s: %w", path, err)
	}
	return nil
}

// Load reads a checkpoint written by Save or by numpy.savez with the same
// arrays (float64 or float32). It returns an error naming the file and the
// problem if the file is not an npz, lacks an array, has inconsistent shapes
// or holds a non-finite number.
func Load(path string) (ck *Checkpoint, err error) {
	defer func() {
		// npyio parses headers written by anyone; a malformed one must be an
		// error, not a crash.
		if r := recover(); r != nil {
			ck, err = nil, fmt.Errorf("model: %s: malformed npz (%v)", path, r)
		}
	}()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w (train one with 'nettrain train --out %s')", err, path)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("model: %s is a directory, want an .npz checkpoint", path)
	}
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %s is not an .npz checkpoint (%v)", path, unwrapAll(err))
	}
	defer r.Close()

	read := func(name string, dims int) ([]float64, []int, error) {
		key := name + ".npy"
		if !slices.Contains(r.Keys(), key) {
			return nil, nil, fmt.Errorf("model: %s has no array %q (has %s); a checkpoint needs W1, b1, W2, b2 and mean", path, name, strings.Join(trimKeys(r.Keys()), ", "))
		}
		hdr := r.Header(key)
		if hdr == nil {
			return nil, nil, fmt.Errorf("model: %s: array %q: unreadable header", path, name)
		}
		shape := hdr.Descr.Shape
		if len(shape) != dims {
			return nil, nil, fmt.Errorf("model: %s: array %q has shape %v, want %d dimensions", path, name, shape, dims)
		}
		var v []float64
		switch typ := strings.Trim(hdr.Descr.Type, `'"`); {
		case dims == 2 && (typ == "<f8" || typ == "f8"):
			var m mat.Dense // honours Fortran order
			if err := r.Read(key, &m); err != nil {
				return nil, nil, fmt.Errorf("model: %s: array %q: %v", path, name, unwrapAll(err))
			}
			v = mat.DenseCopyOf(&m).RawMatrix().Data
		case typ == "<f8" || typ == "f8":
			if err := r.Read(key, &v); err != nil {
				return nil, nil, fmt.Errorf("model: %s: array %q: %v", path, name, unwrapAll(err))
			}
		case (typ == "<f4" || typ == "f4") && !hdr.Descr.Fortran:
			var v32 []float32
			if err := r.Read(key, &v32); err != nil {
				return nil, nil, fmt.Errorf("model: %s: array %q: %v", path, name, unwrapAll(err))
			}
			v = make([]float64, len(v32))
			for i, x := range v32 {
				v[i] = float64(x)
			}
		default:
			return nil, nil, fmt.Errorf("model: %s: array %q has dtype %s, want float64 or C-ordered float32", path, name, typ)
		}
		if want := prod(shape); len(v) != want {
			return nil, nil, fmt.Errorf("model: %s: array %q holds %d numbers, want %d for shape %v (truncated file?)", path, name, len(v), want, shape)
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, nil, fmt.Errorf("model: %s: array %q has %v at flat index %d; the run that wrote it diverged, retrain with a smaller --lr", path, name, x, i)
			}
		}
		return v, shape, nil
	}

	w1, s1, err := read("W1", 2)
	if err != nil {
		return nil, err
	}
	d, h := s1[0], s1[1]
	w2, s2, err := read("W2", 2)
	if err != nil {
		return nil, err
	}
	c := s2[1]
	if s2[0] != h {
		return nil, fmt.Errorf("model: %s: W2 has shape %v, want (%d, C) to follow W1 %v", path, s2, h, s1)
	}
	if d < 1 || h < 1 || c < 1 {
		return nil, fmt.Errorf("model: %s: empty weights: W1 %v, W2 %v", path, s1, s2)
	}
	b1, sb1, err := read("b1", 1)
	if err != nil {
		return nil, err
	}
	b2, sb2, err := read("b2", 1)
	if err != nil {
		return nil, err
	}
	mean, sm, err := read("mean", 1)
	if err != nil {
		return nil, err
	}
	for _, want := range []struct {
		name  string
		got   []int
		wantN int
	}{{"b1", sb1, h}, {"b2", sb2, c}, {"mean", sm, d}} {
		if want.got[0] != want.wantN {
			return nil, fmt.Errorf("model: %s: %s has length %d, want %d to fit W1 %v and W2 %v", path, want.name, want.got[0], want.wantN, s1, s2)
		}
	}

	ck = &Checkpoint{
		Net:  &Net{W1: mat.NewDense(d, h, w1), B1: b1, W2: mat.NewDense(h, c, w2), B2: b2},
		Mean: mean,
	}
	if slices.Contains(r.Keys(), "meta.npy") {
		var s string
		if err := r.Read("meta.npy", &s); err != nil {
			return nil, fmt.Errorf("model: %s: array \"meta\": %v", path, unwrapAll(err))
		}
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("model: %s: meta is not valid JSON", path)
		}
		ck.Meta = json.RawMessage(s)
	}
	return ck, nil
}

func prod(shape []int) int {
	p := 1
	for _, s := range shape {
		p *= s
	}
	return p
}

func trimKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimSuffix(k, ".npy")
	}
	return out
}

// unwrapAll returns the innermost error, dropping the library's layers of
// "npz: could not ..." that would repeat what our message already says.
func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
