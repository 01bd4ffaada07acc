package layers

import (
	"math"
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
	into := map[int]int{}   // a folded batch norm's layer -> its weighted layer's
	gains := map[int]bool{} // the weighted layers something folds into
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
			into[i], gains[j] = j, true
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
		if gains[i] {
			sp = withBias(sp)
		}
		a.Layers = append(a.Layers, sp)
	}
	m, err := Build[float64](a, n.In, n.Classes(), nil)
	if err != nil {
		panic("layers: Fold: " + err.Error()) // dropping batch norms changes no shape
	}
	// Dropping a batch norm renumbers nothing (Build names a batch norm
	// after the layer before it), so m's arrays are n's by name; a bias
	// gained starts at 0.
	arrays := map[string][]float64{}
	for _, x := range m.Arrays() {
		arrays[x.Name] = x.V
	}
	for _, x := range n.Arrays() {
		if v, ok := arrays[x.Name]; ok {
			copy(v, x.V)
		}
	}
	for i, j := range into {
		b := n.Layers[i].(*BatchNorm[float64])
		var wname string
		rows := 0 // W's entries per output channel: a conv's W is (F, C, K, K), an affine's (in, M)
		switch l := n.Layers[j].(type) {
		case *Conv[float64]:
			wname, rows = l.W.Name, len(l.W.V)/l.F
		case *Affine[float64]:
			wname = l.W.Name
		}
		w, bias := arrays[wname], arrays["b"+strings.TrimPrefix(wname, "W")]
		for f := range b.Gamma.V {
			s := b.Gamma.V[f] / math.Sqrt(b.RunVar[f]+Eps)
			if rows > 0 {
				for r := range rows {
					w[f*rows+r] *= s
				}
			} else { // unit f is a column
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
