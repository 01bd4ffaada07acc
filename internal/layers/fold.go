package layers

import (
	"math"
	"slices"
	"strings"
)

// Fold returns a net that computes in evaluation what n computes there,
// with each batch norm folded into the convolution or affine layer before
// it, as a checkpoint holds the MLP's: with a = gamma / sqrt(running_var +
// Eps) per channel,
//
//	W'[f, ...] = a[f] W[f, ...]    b'[f] = a[f] (b[f] - running_mean[f]) + beta[f]
//
// A layer without a bias gains one. A batch norm may also be folded across
// an average pool (a linear map of each channel) or, where every a is
// positive, a max pool (max(a x + b) = a max(x) + b only for a > 0);
// others stay as they are. Fold returns n itself when nothing folds.
func Fold(n *Net[float64]) *Net[float64] {
	into := map[int]int{} // a folded batch norm's layer -> its weighted layer's
	for i, l := range n.Layers {
		b, ok := l.(*BatchNorm[float64])
		if !ok || i == 0 {
			continue
		}
		j := i - 1
		if p, ok := n.Layers[j].(*Pool[float64]); ok && j > 0 && (!p.Max || positive(b)) {
			j--
		}
		switch n.Layers[j].(type) {
		case *Conv[float64], *Affine[float64]:
			into[i] = j
		}
	}
	if len(into) == 0 {
		return n
	}
	a := Arch{}
	for i, sp := range n.Arch.Layers {
		if _, ok := into[i]; ok {
			continue
		}
		if slices.Contains(mapValues(into), i) {
			sp = withBias(sp)
		}
		a.Layers = append(a.Layers, sp)
	}
	m, err := Build[float64](a, n.In, n.Classes(), nil)
	if err != nil {
		panic("layers: Fold: " + err.Error()) // dropping batch norms changes no shape
	}
	// The layers of m in the order of n's that stay.
	k := 0
	for i, l := range n.Layers {
		if _, ok := into[i]; ok {
			continue
		}
		dst := m.Layers[k]
		k++
		switch l := l.(type) {
		case *Conv[float64]:
			d := dst.(*Conv[float64])
			copy(d.W.V, l.W.V)
			if l.B != nil {
				copy(d.B.V, l.B.V)
			}
		case *Affine[float64]:
			d := dst.(*Affine[float64])
			copy(d.W.V, l.W.V)
			if l.B != nil {
				copy(d.B.V, l.B.V)
			}
		case *BatchNorm[float64]:
			d := dst.(*BatchNorm[float64])
			copy(d.Gamma.V, l.Gamma.V)
			copy(d.Beta.V, l.Beta.V)
			copy(d.RunMean, l.RunMean)
			copy(d.RunVar, l.RunVar)
		case *Dropout[float64]:
			dst.(*Dropout[float64]).Rng = l.Rng
		}
	}
	// Fold: the weighted layers of n at index j map to m's by counting.
	pos := func(j int) int {
		d := 0
		for i := range j {
			if _, ok := into[i]; !ok {
				d++
			}
		}
		return d
	}
	for i, j := range into {
		b := n.Layers[i].(*BatchNorm[float64])
		var w, bias []float64
		var rows int // W's entries per output channel or unit
		switch d := m.Layers[pos(j)].(type) {
		case *Conv[float64]:
			w, bias, rows = d.W.V, d.B.V, len(d.W.V)/d.F
		case *Affine[float64]:
			w, bias = d.W.V, d.B.V
		}
		for f := range b.Gamma.V {
			s := b.Gamma.V[f] / math.Sqrt(b.RunVar[f]+Eps)
			if rows > 0 { // conv: W is (F, C, K, K)
				for r := range rows {
					w[f*rows+r] *= s
				}
			} else { // affine: W is (in, M), unit f a column
				for r := f; r < len(w); r += len(bias) {
					w[r] *= s
				}
			}
			bias[f] = s*(bias[f]-b.RunMean[f]) + b.Beta.V[f]
		}
	}
	return m
}

// positive reports whether every channel's scale gamma / sqrt(var + Eps)
// is above zero.
func positive(b *BatchNorm[float64]) bool {
	for _, g := range b.Gamma.V {
		if !(g > 0) {
			return false
		}
	}
	return true
}

func mapValues(m map[int]int) []int {
	v := make([]int, 0, len(m))
	for _, j := range m {
		v = append(v, j)
	}
	return v
}

// Folds reports whether the arch b is a with some of its batch norms
// folded (Fold): a's layers in order less some bn layers, a weighted layer
// gaining a bias only where the next bn was dropped.
func Folds(a, b Arch) bool {
	if a.String() == b.String() {
		return true
	}
	k, gained := 0, false
	for _, sp := range a.Layers {
		weighted := sp.Kind == "conv" || sp.Kind == "fc"
		if weighted && gained {
			return false // a bias gained with no batch norm dropped after it
		}
		switch {
		case k < len(b.Layers) && sp == b.Layers[k]:
			k++
		case k < len(b.Layers) && weighted && !sp.Bias && withBias(sp) == b.Layers[k]:
			k, gained = k+1, true
		case sp.Kind == "bn":
			gained = false
		default:
			return false
		}
	}
	return k == len(b.Layers) && !gained
}

// withBias is the layer sp with a bias.
func withBias(sp Spec) Spec {
	sp.Bias, sp.Text = true, strings.TrimSuffix(sp.Text, "nobias")
	return sp
}
