package onnx

import (
	"fmt"
	"math"
	"strconv"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/onnx/onnxpb"
)

// convGraph adds a convolutional net's nodes and returns its classes: the
// mean image subtracted (Sub, N x 3 x 32 x 32), then per layer Conv,
// MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool,
// BatchNormalization (the running statistics), Relu, GELU as
// 0.5 x (1 + Erf(x / sqrt 2)) (opset 17 has no Gelu), Flatten with MatMul
// and Add for an affine layer, Mul for a scale; dropout is the identity.
func convGraph(g *graph, ck *checkpoint.Checkpoint) (int, error) {
	net := ck.Conv
	if len(ck.Mean) != cifar.D {
		return 0, fmt.Errorf("the mean image has %d values, not CIFAR-10's %d", len(ck.Mean), cifar.D)
	}
	g.initializer("mean", []int64{3, cifar.Width, cifar.Width}, ck.Mean)
	h := g.node("Sub", "sub_mean", []string{Input, "mean"}, "x_centred")
	flat := false
	for i, l := range net.Layers {
		k := strconv.Itoa(i + 1)
		switch l := l.(type) {
		case *layers.Conv[float64]:
			g.initializer(l.W.Name, int64s(l.W.Shape), l.W.V)
			in := []string{h, l.W.Name}
			if l.B != nil {
				g.initializer(l.B.Name, int64s(l.B.Shape), l.B.V)
				in = append(in, l.B.Name)
			}
			p, s, kk := int64(l.P), int64(l.S), int64(l.K)
			h = g.node("Conv", "conv"+k, in, "conv"+k, attrInts("kernel_shape", kk, kk), attrInts("pads", p, p, p, p), attrInts("strides", s, s))
		case *layers.Pool[float64]:
			op := map[bool]string{true: "MaxPool", false: "AveragePool"}[l.Max]
			if l.KH == l.In.H && l.KW == l.In.W && l.S == 1 && l.Out().H == 1 {
				h = g.node("Global"+op, "pool"+k, []string{h}, "pool"+k)
				break
			}
			h = g.node(op, "pool"+k, []string{h}, "pool"+k, attrInts("kernel_shape", int64(l.KH), int64(l.KW)), attrInts("strides", int64(l.S), int64(l.S)))
		case *layers.BatchNorm[float64]:
			c := []int64{int64(l.In.C)}
			names := []string{"gamma" + l.ID, "beta" + l.ID, "running_mean" + l.ID, "running_var" + l.ID}
			for j, v := range [][]float64{l.Gamma.V, l.Beta.V, l.RunMean, l.RunVar} {
				g.initializer(names[j], c, v)
			}
			h = g.node("BatchNormalization", "bn"+k, append([]string{h}, names...), "bn"+k, attrFloat("epsilon", layers.Eps))
		case *layers.Act[float64]:
			if !l.GELU {
				h = g.node("Relu", "relu"+k, []string{h}, "relu"+k)
				break
			}
			g.scalar("sqrt2_"+k, math.Sqrt2)
			g.scalar("one_"+k, 1)
			g.scalar("half_"+k, 0.5)
			d := g.node("Div", "gelu"+k+"_div", []string{h, "sqrt2_" + k}, "gelu"+k+"_div")
			e := g.node("Erf", "gelu"+k+"_erf", []string{d}, "gelu"+k+"_erf")
			a := g.node("Add", "gelu"+k+"_add", []string{e, "one_" + k}, "gelu"+k+"_add")
			m := g.node("Mul", "gelu"+k+"_mul", []string{h, a}, "gelu"+k+"_mul")
			h = g.node("Mul", "gelu"+k, []string{m, "half_" + k}, "gelu"+k)
		case *layers.Affine[float64]:
			if !flat {
				h = g.node("Flatten", "flatten"+k, []string{h}, "flatten"+k, attrInt("axis", 1))
				flat = true
			}
			g.initializer(l.W.Name, int64s(l.W.Shape), l.W.V)
			h = g.node("MatMul", "matmul"+k, []string{h, l.W.Name}, "matmul"+k)
			if l.B != nil {
				g.initializer(l.B.Name, int64s(l.B.Shape), l.B.V)
				h = g.node("Add", "add"+k, []string{h, l.B.Name}, "add"+k)
			}
		case *layers.Flatten[float64]:
			h = g.node("Flatten", "flatten"+k, []string{h}, "flatten"+k, attrInt("axis", 1))
			flat = true
		case *layers.Scale[float64]:
			g.scalar("scale_"+k, l.K)
			h = g.node("Mul", "scale"+k, []string{h, "scale_" + k}, "scale"+k)
		case *layers.Dropout[float64]:
			// the identity in evaluation
		default:
			return 0, fmt.Errorf("layer %d (%s) has no ONNX form here", i+1, net.Arch.Layers[i].Text)
		}
	}
	if !flat { // a net ending in a global pool: N x C x 1 x 1
		h = g.node("Flatten", "flatten_scores", []string{h}, "flatten_scores", attrInt("axis", 1))
	}
	g.node("Softmax", "softmax", []string{h}, Output, attrInt("axis", -1))
	return net.Classes(), nil
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// scalar adds a float32 constant of rank 0.
func (g *graph) scalar(name string, v float64) { g.initializer(name, []int64{}, []float64{v}) }

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}
