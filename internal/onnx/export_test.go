package onnx_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/onnx"
	"github.com/nettrain/nettrain/internal/onnx/onnxpb"
)

// randomCheckpoint is a CIFAR-sized net of the given kind with random
// weights (and, for batch norm, random gamma, beta and running statistics)
// and a random mean image.
func randomCheckpoint(seed uint64, norm model.Norm, hidden ...int) *checkpoint.Checkpoint {
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := append(append([]int{cifar.D}, hidden...), cifar.Classes)
	net := model.NewNorm(norm, sizes, 0.02, rng)
	for _, l := range net.Layers {
		for j := range l.B {
			l.B[j] = 0.1 * rng.NormFloat64()
		}
		for j := range l.Gamma {
			l.Gamma[j] = 1 + 0.2*rng.NormFloat64()
			l.Beta[j] = 0.2 * rng.NormFloat64()
		}
		for j := range l.RunVar {
			l.RunMean[j] = rng.NormFloat64()
			l.RunVar[j] = 0.5 + rng.Float64()
		}
	}
	mean := make([]float64, cifar.D)
	for i := range mean {
		mean[i] = 100 + 50*rng.Float64()
	}
	meta := fmt.Sprintf(`{"config": {"hidden": %v, "norm": %q, "lr": 0.001}, "classes": ["a","b","c","d","e","f","g","h","i","j"]}`, hidden[0], norm)
	return &checkpoint.Checkpoint{Net: net, Mean: mean, Meta: json.RawMessage(meta)}
}

// pixels are n random images of values 0..255, as the graph takes them.
func pixels(seed uint64, n int) []float64 {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := make([]float64, n*cifar.D)
	for i := range x {
		x[i] = float64(rng.IntN(256))
	}
	return x
}

// The graph of each kind of net, run by a plain interpreter of its
// operators (run below), gives the probabilities of the Go forward pass
// (model.Net.Probabilities of the pixels minus the mean image, batch norm
// with its running statistics) within float32's rounding of the weights.
func TestGraphMatchesForwardPass(t *testing.T) {
	for _, c := range []struct {
		name   string
		norm   model.Norm
		hidden []int
	}{
		{"two-layer", model.NoNorm, []int{50}},
		{"deep", model.NoNorm, []int{40, 30, 20}},
		{"batch norm", model.BatchNorm, []int{40, 30}},
		{"layer norm", model.LayerNorm, []int{40, 30}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck := randomCheckpoint(1, c.norm, c.hidden...)
			m, err := onnx.Export(ck, "test")
			if err != nil {
				t.Fatal(err)
			}
			const n = 7
			x := pixels(2, n)
			got := run(t, m, x, n)
			centred := make([]float64, len(x))
			for i := range x {
				centred[i] = x[i] - ck.Mean[i%cifar.D]
			}
			want := ck.Net.FoldNorm().Probabilities(nil, nil, centred)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-5 {
					t.Fatalf("probability %d (image %d, class %d): graph %v, forward pass %v", i, i/cifar.Classes, i%cifar.Classes, got[i], want[i])
				}
			}
			ops := map[string]int{}
			for _, nd := range m.Graph.Node {
				ops[nd.GetOpType()]++
			}
			if want := len(c.hidden) + 1; ops["MatMul"] != want || ops["Add"] != want || ops["Relu"] != len(c.hidden) {
				t.Errorf("operators %v, want %d MatMul and Add, %d Relu", ops, want, len(c.hidden))
			}
			if wantLN := map[bool]int{true: len(c.hidden)}[c.norm == model.LayerNorm]; ops["LayerNormalization"] != wantLN {
				t.Errorf("%d LayerNormalization, want %d", ops["LayerNormalization"], wantLN)
			}
		})
	}
}

// The interface and the metadata: pixels N x 3 x 32 x 32 in, probabilities
// N x 10 out, N dynamic; opset 17; the class names and the config.
func TestModelInterface(t *testing.T) {
	m, err := onnx.Export(randomCheckpoint(1, model.NoNorm, 20), "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	shape := func(vi *onnxpb.ValueInfoProto) string {
		var s []string
		for _, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				s = append(s, d.GetDimParam())
			} else {
				s = append(s, fmt.Sprint(d.GetDimValue()))
			}
		}
		return vi.GetName() + strings.Join(s, "x")
	}
	if got := shape(m.Graph.Input[0]) + " " + shape(m.Graph.Output[0]); got != "pixelsNx3x32x32 probabilitiesNx10" {
		t.Errorf("interface %s", got)
	}
	if m.GetIrVersion() != 8 || m.OpsetImport[0].GetVersion() != 17 || m.GetProducerName() != "nettrain" || m.GetProducerVersion() != "v1.2.3" {
		t.Errorf("ir %d opset %d producer %s %s", m.GetIrVersion(), m.OpsetImport[0].GetVersion(), m.GetProducerName(), m.GetProducerVersion())
	}
	props := map[string]string{}
	for _, p := range m.MetadataProps {
		props[p.GetKey()] = p.GetValue()
	}
	if props["classes"] != `["a","b","c","d","e","f","g","h","i","j"]` || props["config"] != `{"hidden":20,"lr":0.001,"norm":""}` {
		t.Errorf("metadata %v", props)
	}
	// A numpy checkpoint has no metadata: CIFAR-10's names, an empty config.
	ck := randomCheckpoint(1, model.NoNorm, 20)
	ck.Meta = nil
	m, _ = onnx.Export(ck, "")
	if p := m.MetadataProps; p[0].GetValue() != `["airplane","automobile","bird","cat","deer","dog","frog","horse","ship","truck"]` || p[1].GetValue() != "{}" {
		t.Errorf("numpy checkpoint's metadata %v", p)
	}
}

// The same checkpoint gives the same bytes, and they decode to the same model.
func TestExportDeterministic(t *testing.T) {
	var out [2][]byte
	for i := range out {
		m, err := onnx.Export(randomCheckpoint(3, model.LayerNorm, 30, 20), "v")
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = onnx.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("two exports of one checkpoint differ")
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(out[0], &back); err != nil {
		t.Fatal(err)
	}
	again, _ := onnx.Marshal(&back)
	if !bytes.Equal(again, out[0]) {
		t.Error("the model does not survive decoding and encoding again")
	}
}

// What cannot be exported is one line naming it.
func TestExportRefuses(t *testing.T) {
	small := randomCheckpoint(1, model.NoNorm, 20)
	small.Net = model.New([]int{5, 4, 3}, 0.1, rand.New(rand.NewPCG(1, 1)))
	nan := randomCheckpoint(1, model.NoNorm, 20)
	nan.Net.Layers[1].W.Set(3, 4, math.NaN())
	huge := randomCheckpoint(1, model.NoNorm, 20)
	huge.Net.Layers[0].B[2] = 1e300
	for name, c := range map[string]struct {
		ck   *checkpoint.Checkpoint
		want string
	}{
		"not CIFAR": {small, "the net takes 5 inputs"},
		"NaN":       {nan, "W2[34] is NaN, not a finite float32"},
		"too large": {huge, "b1[2] is 1e+300, not a finite float32"},
	} {
		_, err := onnx.Export(c.ck, "")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", name, err, c.want)
		}
	}
}

// run interprets the graph of m on n images x in float64, with each
// initializer's float32 values: the meaning ONNX gives Flatten, Sub, MatMul,
// Add (broadcasting a vector over rows), Relu, LayerNormalization over the
// last axis and Softmax over the last axis, written plainly.
func run(t *testing.T, m *onnxpb.ModelProto, x []float64, n int) []float64 {
	t.Helper()
	type tensor struct {
		v    []float64
		cols int
	}
	vals := map[string]tensor{onnx.Input: {x, cifar.D}}
	for _, init := range m.Graph.Initializer {
		if init.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
			t.Fatalf("%s is not float32", init.GetName())
		}
		raw := init.GetRawData()
		v := make([]float64, len(raw)/4)
		for i := range v {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		dims := init.GetDims()
		vals[init.GetName()] = tensor{v, int(dims[len(dims)-1])}
	}
	for _, nd := range m.Graph.Node {
		in := make([]tensor, len(nd.Input))
		for i, name := range nd.Input {
			v, ok := vals[name]
			if !ok {
				t.Fatalf("%s: input %s is not defined before it", nd.GetName(), name)
			}
			in[i] = v
		}
		a := in[0]
		out := tensor{make([]float64, len(a.v)), a.cols}
		rows := len(a.v) / a.cols
		switch nd.GetOpType() {
		case "Flatten":
			copy(out.v, a.v)
		case "Sub", "Add":
			sign := map[string]float64{"Sub": -1, "Add": 1}[nd.GetOpType()]
			for i := range a.v {
				out.v[i] = a.v[i] + sign*in[1].v[i%a.cols]
			}
		case "MatMul":
			w := in[1]
			out = tensor{make([]float64, rows*w.cols), w.cols}
			for r := range rows {
				for k := range a.cols {
					for j := range w.cols {
						out.v[r*w.cols+j] += a.v[r*a.cols+k] * w.v[k*w.cols+j]
					}
				}
			}
		case "Relu":
			for i, v := range a.v {
				out.v[i] = max(v, 0)
			}
		case "LayerNormalization", "Softmax":
			for r := range rows {
				row, dst := a.v[r*a.cols:(r+1)*a.cols], out.v[r*a.cols:(r+1)*a.cols]
				if nd.GetOpType() == "Softmax" {
					top := row[0]
					for _, v := range row {
						top = max(top, v)
					}
					sum := 0.0
					for j, v := range row {
						dst[j] = math.Exp(v - top)
						sum += dst[j]
					}
					for j := range dst {
						dst[j] /= sum
					}
					continue
				}
				mu, vr := 0.0, 0.0
				for _, v := range row {
					mu += v / float64(a.cols)
				}
				for _, v := range row {
					vr += (v - mu) * (v - mu) / float64(a.cols)
				}
				eps := float64(nd.Attribute[1].GetF())
				for j, v := range row {
					dst[j] = (v-mu)/math.Sqrt(vr+eps)*in[1].v[j] + in[2].v[j]
				}
			}
		default:
			t.Fatalf("operator %s is not one the exporter should use", nd.GetOpType())
		}
		vals[nd.Output[0]] = out
	}
	return vals[onnx.Output].v
}
