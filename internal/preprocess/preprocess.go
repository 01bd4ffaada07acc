// Package preprocess is what is done to the images before the net sees
// them: the mean image subtracted (cs231n), per-channel standardisation, or
// ZCA whitening fitted on the training split; and, as each is linear, its
// folding into the first layer's weights, so that a saved net takes
// mean-subtracted pixels whatever it was trained on.
package preprocess

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/setting"
)

// Data is what a run learns from: the splits and their preprocessing.
type Data struct {
	Train, Val cifar.Set
	Mean       []float64 // (D) subtracted from every image
	Scale      []float64 // (D) then multiplying every input, or nil (see cifar.GatherAug)

	// ZCA whitening: Whiten is the (D, D) matrix Z, inputs (x - Mean) Z, and
	// Dense the training inputs so transformed (WhitenSet), in the run's
	// precision. Both nil without whitening.
	Whiten *mat.Dense
	Dense  any
}

// Method is how Prepare treats the inputs.
type Method string

// Methods of Prepare.
const (
	Mean    Method = "mean"    // subtract the mean image (cs231n)
	Channel Method = "channel" // per-channel standardisation
	ZCA     Method = "zca"     // ZCA whitening
)

// Valid reports whether p is a preprocessing ("" is Mean).
func (p Method) Valid() bool { return p == "" || p == Mean || p == Channel || p == ZCA }

// Prepare returns the Data of a run on the train and val splits with the
// given preprocessing ("" is Mean); zcaEps and precision matter for
// ZCA only, which fits the whitening and whitens the train split once.
func Prepare(train, val cifar.Set, preprocess Method, zcaEps float64, precision model.Precision) (Data, error) {
	d := Data{Train: train, Val: val}
	switch preprocess {
	case "", Mean:
		d.Mean = cifar.Mean(train)
	case Channel:
		d.Mean, d.Scale = cifar.ChannelStats(train)
	case ZCA:
		var err error
		if d.Mean, d.Whiten, err = FitZCA(train, zcaEps); err != nil {
			return d, err
		}
		if precision == model.Float64 {
			d.Dense = WhitenSet[float64](train, d.Mean, d.Whiten)
		} else {
			d.Dense = WhitenSet[float32](train, d.Mean, d.Whiten)
		}
	default:
		return d, setting.Errorf("preprocess", "{preprocess} is %q, want mean, channel or zca", preprocess)
	}
	return d, nil
}

// Folded reports whether d has preprocessing to fold into W1.
func (d Data) Folded() bool { return d.Whiten != nil || d.Scale != nil }

// Fold returns net as a net on mean-subtracted inputs: the preprocessing
// (Scale or Whiten) folded into W1, which it multiplies from the left. It
// returns net itself when there is none.
func (d Data) Fold(net *model.Net) *model.Net {
	if !d.Folded() {
		return net
	}
	out := net.Clone()
	var whiten []float64
	if d.Whiten != nil {
		whiten = d.Whiten.RawMatrix().Data
	}
	FoldRaw(out.Raw(), net.Raw(), d.Scale, whiten)
	return out
}

// FoldRaw sets dst, of src's shape, to src with the preprocessing folded
// into W1: row j of W1 multiplied by scale[j], or W1 multiplied from the
// left by the (D, D) whitening matrix. The result takes mean-subtracted
// inputs and computes what src does on preprocessed ones.
func FoldRaw[T model.Float](dst, src *model.Raw[T], scale []float64, whiten []T) {
	dp := dst.Arrays()
	for k, p := range src.Arrays() {
		if k > 0 { // all but W1: b1, the normalisation's, the layers above
			copy(dp[k], p)
		}
	}
	d, h := src.Sizes[0], src.Sizes[1]
	switch {
	case whiten != nil:
		gemm.Gemm(blas.NoTrans, blas.NoTrans, d, h, d, 1, whiten, d, src.W[0], h, 0, dst.W[0], h)
	case scale != nil:
		for j, s := range scale {
			row, out := src.W[0][j*h:(j+1)*h], dst.W[0][j*h:(j+1)*h]
			for i, w := range row {
				out[i] = T(float64(w) * s)
			}
		}
	}
}
