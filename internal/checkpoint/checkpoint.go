// Package checkpoint reads and writes trained nets as .npz files that
// numpy.load opens: the weights, the mean image and the run's metadata, and
// the arrays a resumed run needs. Every file is treated as possibly
// hostile: read within bounds, its shapes checked, never trusted to fit.
package checkpoint

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
)

// Checkpoint is a trained net with what it needs to be evaluated.
//
// On disk it is one .npz file that numpy.load opens: float64 arrays W1 (D,H),
// b1 (H), W2 (H,C), b2 (C) and mean (D), the training mean image, plus meta,
// a unicode scalar holding JSON text (the run's config and results). A
// deeper net has W3, b3 and so on, each Wk (H(k-1), Hk), the last giving the
// C class scores. Meta is optional on load, so a model exported from numpy
// with the arrays alone loads and evaluates.
type Checkpoint struct {
	Net  *model.Net           // a fully connected net, or nil
	Conv *layers.Net[float64] // a convolutional net (conv.go), or nil
	Mean []float64            // (D) mean image subtracted from every input
	Meta json.RawMessage      // JSON object, or nil
	// Extra holds further 1-D float64 arrays by name, such as a training
	// run's optimizer state; eval does not need them.
	Extra map[string][]float64
}

// Save writes ck to path atomically.
func Save(path string, ck *Checkpoint) error {
	if err := fsutil.WriteAtomic(path, func(w io.Writer) error { return Write(w, ck) }); err != nil {
		return fmt.Errorf("model: saving %s: %w", path, err)
	}
	return nil
}

// Write writes ck to w as an npz archive. Like numpy.savez it stores the
// arrays uncompressed: float weights barely compress, and storing is many
// times faster than deflating.
func Write(w io.Writer, ck *Checkpoint) error {
	if ck.Conv != nil && len(ck.Mean) != ck.Conv.In.Size() || ck.Conv == nil && len(ck.Mean) != ck.Net.Inputs() {
		panic("model: Write: mean has the wrong length")
	}
	if ck.Conv == nil && ck.Net.Norm == model.BatchNorm {
		panic("model: Write: batch normalisation must be folded (model.FoldNorm) before saving")
	}
	zw := zip.NewWriter(w)
	put := func(name string, v any) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(fw, 1<<16)
		if err := npy.Write(bw, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return bw.Flush()
	}
	var layers []model.Layer
	if ck.Conv != nil {
		if err := writeConv(put, ck.Conv); err != nil {
			return err
		}
	} else {
		layers = ck.Net.Layers
	}
	for l, layer := range layers {
		k := strconv.Itoa(l + 1)
		if err := put("W"+k, layer.W); err != nil {
			return err
		}
		if err := put("b"+k, layer.B); err != nil {
			return err
		}
		if layer.Gamma == nil {
			continue
		}
		if err := put("gamma"+k, layer.Gamma); err != nil {
			return err
		}
		if err := put("beta"+k, layer.Beta); err != nil {
			return err
		}
	}
	if err := put("mean", ck.Mean); err != nil {
		return err
	}
	if ck.Meta != nil {
		if err := put("meta", string(ck.Meta)); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ck.Extra)) {
		if isCore(name) || ck.Conv != nil && isConvCore(name) {
			panic("model: Write: extra array named like a core one: " + name)
		}
		if err := put(name, ck.Extra[name]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// Load reads a checkpoint written by Save or by numpy.savez with the same
// arrays (float64 or float32). It returns an error naming the file and the
// problem if the file is not an npz, lacks an array, has inconsistent shapes
// or holds a non-finite number.
func Load(path string) (*Checkpoint, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("model: %w (train one with 'nettrain train {out} %s')", err, path)
	}
	f, err := fsutil.OpenRegular(path) // a FIFO or device would block or never end
	if err != nil {
		return nil, fmt.Errorf("model: %w, want an .npz checkpoint", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	ck, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", path, err)
	}
	return ck, nil
}

// Limits on what Read believes of a file, so that a damaged or hostile one
// cannot make it allocate more than a small multiple of its own size.
const (
	maxHeaderLen = 1 << 16 // bytes of an npy header; numpy writes ~128
	maxInflation = 1100    // deflate cannot expand more than ~1032:1
)

// Read reads a checkpoint from the npz bytes in r, which holds size bytes.
// Its errors do not name a file; Load's do.
func Read(r io.ReaderAt, size int64) (ck *Checkpoint, err error) {
	defer func() {
		// npyio parses headers written by anyone; a malformed one must be an
		// error, not a crash.
		if p := recover(); p != nil {
			ck, err = nil, fmt.Errorf("malformed npz (%v)", p)
		}
	}()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not an .npz checkpoint (%v)", err)
	}
	files := map[string]*zip.File{}
	var names []string
	for _, f := range zr.File {
		if files[f.Name] != nil {
			return nil, fmt.Errorf("holds two entries named %q (a crafted file?)", f.Name)
		}
		files[f.Name] = f
		names = append(names, strings.TrimSuffix(f.Name, ".npy"))
	}
	if err := checkDisjoint(zr.File, size); err != nil {
		return nil, err
	}

	read := func(name string, dims int) ([]float64, []int, error) {
		f, ok := files[name+".npy"]
		if !ok {
			return nil, nil, fmt.Errorf("no array %q (has %s); a checkpoint needs W1, b1, W2, b2 and mean (a deeper net W3, b3 and so on too)", name, strings.Join(names, ", "))
		}
		v, shape, err := readArray(f, size, dims)
		if err != nil {
			return nil, nil, fmt.Errorf("array %q %w", name, err)
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, nil, fmt.Errorf("array %q has %v at flat index %d; the run that wrote it diverged, retrain with a smaller {lr}", name, x, i)
			}
		}
		return v, shape, nil
	}

	if files["arch.npy"] != nil {
		return readConvCheckpoint(files, size, read)
	}
	// The layers: W1, b1, W2, b2, ... up to the first Wk missing, each Wk
	// taking what W(k-1) gives.
	layers := 0
	for files["W"+strconv.Itoa(layers+1)+".npy"] != nil {
		layers++
	}
	if layers < 2 {
		_, _, err := read("W"+strconv.Itoa(layers+1), 2)
		return nil, err
	}
	for name := range files {
		if k, ok := layerIndex(strings.TrimSuffix(name, ".npy")); ok && k > layers {
			return nil, fmt.Errorf("has %s but no W%d: the layers must be numbered 1, 2, ... without a gap", strings.TrimSuffix(name, ".npy"), layers+1)
		}
	}
	net := &model.Net{Layers: make([]model.Layer, layers)}
	var shapes []string
	for l := range layers {
		k := strconv.Itoa(l + 1)
		w, sw, err := read("W"+k, 2)
		if err != nil {
			return nil, err
		}
		shapes = append(shapes, fmt.Sprintf("W%s %v", k, sw))
		if sw[0] < 1 || sw[1] < 1 {
			return nil, fmt.Errorf("empty weights: %s", strings.Join(shapes, ", "))
		}
		if l > 0 {
			if _, prev := net.Layers[l-1].W.Dims(); sw[0] != prev {
				return nil, fmt.Errorf("array W%s has shape %v, want (%d, ...) to follow %s", k, sw, prev, shapes[l-1])
			}
		}
		b, sb, err := read("b"+k, 1)
		if err != nil {
			return nil, err
		}
		if sb[0] != sw[1] {
			return nil, fmt.Errorf("b%s has length %d, want %d to fit W%s %v", k, sb[0], sw[1], k, sw)
		}
		net.Layers[l] = model.Layer{W: mat.NewDense(sw[0], sw[1], w), B: b}
	}
	// Layer normalisation, which cannot be folded into the weights: gamma
	// and beta of every hidden layer, or of none.
	if files["gamma1.npy"] != nil || files["beta1.npy"] != nil {
		net.Norm = model.LayerNorm
		for l := range layers - 1 {
			k := strconv.Itoa(l + 1)
			h := len(net.Layers[l].B)
			for _, p := range []struct {
				name string
				dst  *[]float64
			}{{"gamma" + k, &net.Layers[l].Gamma}, {"beta" + k, &net.Layers[l].Beta}} {
				if files[p.name+".npy"] == nil {
					return nil, fmt.Errorf("has gamma1 or beta1 (layer normalisation) but no %s: a layer-normalised net needs gamma and beta for each of its %d hidden layers", p.name, layers-1)
				}
				v, sv, err := read(p.name, 1)
				if err != nil {
					return nil, err
				}
				if sv[0] != h {
					return nil, fmt.Errorf("%s has length %d, want %d to fit %s", p.name, sv[0], h, shapes[l])
				}
				*p.dst = v
			}
		}
	}
	for name := range files {
		name = strings.TrimSuffix(name, ".npy")
		isNorm := strings.HasPrefix(name, "gamma") || strings.HasPrefix(name, "beta")
		if k, ok := layerIndex(name); ok && isNorm && (k >= layers || net.Norm == model.NoNorm) {
			return nil, fmt.Errorf("has %s but the net has %d hidden layers and no gamma1: normalisation is for hidden layers, numbered from 1", name, layers-1)
		}
	}
	mean, sm, err := read("mean", 1)
	if err != nil {
		return nil, err
	}
	if d := net.Inputs(); sm[0] != d {
		return nil, fmt.Errorf("mean has length %d, want %d to fit %s", sm[0], d, shapes[0])
	}

	ck = &Checkpoint{Net: net, Mean: mean}
	return ck, readRest(ck, files, size, isCore)
}

// readRest reads a checkpoint's extra arrays (those core does not name) and
// its meta into ck.
func readRest(ck *Checkpoint, files map[string]*zip.File, size int64, core func(string) bool) error {
	for name, f := range files {
		name = strings.TrimSuffix(name, ".npy")
		if core(name) {
			continue
		}
		v, _, err := readArray(f, size, 1)
		if err != nil {
			return fmt.Errorf("array %q %w", name, err)
		}
		if ck.Extra == nil {
			ck.Extra = map[string][]float64{}
		}
		ck.Extra[name] = v
	}
	if f, ok := files["meta.npy"]; ok {
		s, err := readString(f, size)
		if err != nil {
			return fmt.Errorf("array \"meta\" %w", err)
		}
		if !json.Valid([]byte(s)) {
			return errors.New("meta is not valid JSON")
		}
		ck.Meta = json.RawMessage(s)
	}
	return nil
}

// checkDisjoint makes sure no two entries share their compressed bytes.
// Entries pointing at one stream would let a small file inflate to its
// bound once per entry: 40 entries over one 1 GiB deflate stream in 1.1 MB.
func checkDisjoint(entries []*zip.File, size int64) error {
	type span struct {
		lo, hi int64
		name   string
	}
	spans := make([]span, 0, len(entries))
	for _, f := range entries {
		off, err := f.DataOffset()
		if err != nil {
			return fmt.Errorf("entry %q cannot be located (%v)", f.Name, err)
		}
		if f.CompressedSize64 > uint64(size) || off+int64(f.CompressedSize64) > size {
			return fmt.Errorf("entry %q runs past the end of the file (truncated?)", f.Name)
		}
		spans = append(spans, span{off, off + int64(f.CompressedSize64), f.Name})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return fmt.Errorf("entries %q and %q share their bytes (a crafted file?)", spans[i-1].name, spans[i].name)
		}
	}
	return nil
}

// isCore reports whether name is one of a checkpoint's own arrays: a
// layer's W or b, mean or meta.
func isCore(name string) bool {
	_, layer := layerIndex(name)
	return layer || name == "mean" || name == "meta"
}

// layerIndex returns k for the name of a layer's array, Wk, bk, gammak or
// betak (k >= 1, written without leading zeros).
func layerIndex(name string) (k int, ok bool) {
	for _, prefix := range []string{"W", "b", "gamma", "beta"} {
		rest, found := strings.CutPrefix(name, prefix)
		if !found || rest == "" || rest[0] == '0' {
			continue
		}
		k, err := strconv.Atoi(rest)
		if err == nil && k >= 1 && strconv.Itoa(k) == rest {
			return k, true
		}
	}
	return 0, false
}

// openNpy opens the npy entry f after checking its sizes, and returns its
// header reader.
func openNpy(f *zip.File, archiveSize int64) (*npy.Reader, io.Closer, error) {
	if f.CompressedSize64 > uint64(archiveSize) ||
		f.Method == zip.Deflate && f.UncompressedSize64 > f.CompressedSize64*maxInflation+maxHeaderLen ||
		f.Method == zip.Store && f.UncompressedSize64 != f.CompressedSize64 {
		return nil, nil, fmt.Errorf("has implausible sizes in the zip directory (%d bytes from %d)", f.UncompressedSize64, f.CompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot be opened (%v)", unwrapAll(err))
	}
	// Check the header length before npyio allocates it.
	var pre [12]byte
	if _, err := io.ReadFull(rc, pre[:10]); err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("is truncated (%v)", unwrapAll(err))
	}
	n := 10
	hlen := int(binary.LittleEndian.Uint16(pre[8:10]))
	if pre[6] >= 2 {
		if _, err := io.ReadFull(rc, pre[10:12]); err != nil {
			rc.Close()
			return nil, nil, fmt.Errorf("is truncated (%v)", unwrapAll(err))
		}
		n = 12
		hlen = int(binary.LittleEndian.Uint32(pre[8:12]))
	}
	if hlen > maxHeaderLen {
		rc.Close()
		return nil, nil, fmt.Errorf("has an npy header of %d bytes, want at most %d", hlen, maxHeaderLen)
	}
	nr, err := npy.NewReader(io.MultiReader(bytes.NewReader(pre[:n]), rc))
	if err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("is not an npy array (%v)", unwrapAll(err))
	}
	return nr, rc, nil
}

// readArray reads the float array in f, which must have dims dimensions.
func readArray(f *zip.File, archiveSize int64, dims int) ([]float64, []int, error) {
	nr, rc, err := openNpy(f, archiveSize)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	shape := nr.Header.Descr.Shape
	if len(shape) != dims {
		return nil, nil, fmt.Errorf("has shape %v, want %d dimensions", shape, dims)
	}
	n := 1
	for _, s := range shape {
		if s < 0 {
			return nil, nil, fmt.Errorf("has shape %v: a negative dimension", shape)
		}
		if s > 0 && n > math.MaxInt32/s {
			return nil, nil, fmt.Errorf("has shape %v: too large", shape)
		}
		n *= s
	}
	typ := strings.Trim(nr.Header.Descr.Type, `'"`)
	size := map[string]int{"<f8": 8, "f8": 8, "<f4": 4, "f4": 4}[typ]
	if size == 0 || (size == 4 || dims > 2) && nr.Header.Descr.Fortran {
		return nil, nil, fmt.Errorf("has dtype %s, want float64 or C-ordered float32", typ)
	}
	if uint64(n*size) > f.UncompressedSize64 {
		return nil, nil, fmt.Errorf("has shape %v but holds fewer than %d bytes (truncated file?)", shape, n*size)
	}
	var v []float64
	switch {
	case size == 8 && dims == 2:
		var m mat.Dense // honours Fortran order
		if err := nr.Read(&m); err != nil {
			return nil, nil, fmt.Errorf("is unreadable (%v)", unwrapAll(err))
		}
		v = mat.DenseCopyOf(&m).RawMatrix().Data
	case size == 8:
		if err := nr.Read(&v); err != nil {
			return nil, nil, fmt.Errorf("is unreadable (%v)", unwrapAll(err))
		}
	default:
		var v32 []float32
		if err := nr.Read(&v32); err != nil {
			return nil, nil, fmt.Errorf("is unreadable (%v)", unwrapAll(err))
		}
		v = make([]float64, len(v32))
		for i, x := range v32 {
			v[i] = float64(x)
		}
	}
	if len(v) != n {
		return nil, nil, fmt.Errorf("holds %d numbers, want %d for shape %v (truncated file?)", len(v), n, shape)
	}
	return v, shape, nil
}

// readString reads the unicode scalar in f.
func readString(f *zip.File, archiveSize int64) (string, error) {
	nr, rc, err := openNpy(f, archiveSize)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var s string
	if err := nr.Read(&s); err != nil {
		return "", fmt.Errorf("is unreadable (%v)", unwrapAll(err))
	}
	return s, nil
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
