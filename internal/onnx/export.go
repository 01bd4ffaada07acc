// Package onnx exports nettrain's models as ONNX models that take raw
// pixels and return class probabilities, the preprocessing inside the
// graph, for onnxruntime, OpenCV's dnn module and the other runtimes that
// read ONNX. The messages are onnxpb's, generated from the official
// onnx.proto; the encoding is google.golang.org/protobuf's, deterministic,
// so one checkpoint always gives the same bytes (docs/DESIGN.md, "ONNX").
package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/onnx/onnxpb"
)

// The ONNX versions an export targets: opset 17 (the first with
// LayerNormalization), which every onnxruntime since 1.12 runs, and its IR
// version, 8.
const (
	Opset     = 17
	IRVersion = 8
)

// Names of the graph's input and output.
const (
	Input  = "pixels"        // float32 N x 3 x 32 x 32, values 0..255
	Output = "probabilities" // float32 N x classes, softmax of the scores
)

// InputDoc and OutputDoc describe the graph's input and output in its
// metadata and doc strings.
const (
	InputDoc  = "float32 N x 3 x 32 x 32: RGB values 0..255 as in the CIFAR-10 batches (planes R, G, B; rows top to bottom; columns left to right)"
	OutputDoc = "float32 N x C: softmax probabilities of the classes named in the metadata key \"classes\""
)

// Export returns the ONNX model of ck, which takes pixels and returns
// probabilities: for a fully connected net (mlpGraph) the mean image
// subtracted, then each affine layer (MatMul, Add), its layer
// normalisation if the net has one (LayerNormalization; batch
// normalisation is folded into the affine layer, as the checkpoint's
// weights already are) and ReLU; for a convolutional one (convGraph) its
// layers one by one; at the end Softmax. The class names and the run's
// config from ck's metadata, and producer (nettrain's version), go into the
// model's metadata.
func Export(ck *checkpoint.Checkpoint, producer string) (*onnxpb.ModelProto, error) {
	g := &graph{}
	var classes int
	var err error
	if ck.Conv != nil {
		classes, err = convGraph(g, ck)
	} else {
		classes, err = mlpGraph(g, ck)
	}
	if err != nil {
		return nil, err
	}
	if g.err != nil {
		return nil, g.err
	}
	meta, config := metadata(ck.Meta, classes)
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String("nettrain"),
		ProducerVersion: proto.String(producer),
		DocString:       proto.String("A CIFAR-10 classifier trained by nettrain: pixels in, class probabilities out."),
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("nettrain"),
			Node:        g.nodes,
			Initializer: g.inits,
			Input:       []*onnxpb.ValueInfoProto{tensorInfo(Input, InputDoc, dim("N"), dimN(3), dimN(cifar.Width), dimN(cifar.Width))},
			Output:      []*onnxpb.ValueInfoProto{tensorInfo(Output, OutputDoc, dim("N"), dimN(int64(classes)))},
		},
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("classes"), Value: proto.String(meta)},
			{Key: proto.String("config"), Value: proto.String(config)},
			{Key: proto.String("input"), Value: proto.String(InputDoc)},
			{Key: proto.String("output"), Value: proto.String(OutputDoc)},
		},
	}
	return m, nil
}

// mlpGraph adds a fully connected net's nodes and returns its classes.
func mlpGraph(g *graph, ck *checkpoint.Checkpoint) (int, error) {
	net := ck.Net
	if net.Norm == model.BatchNorm {
		net = net.FoldNorm()
	}
	if net.Norm != model.NoNorm && net.Norm != model.LayerNorm {
		return 0, fmt.Errorf("the net's normalisation %q has no ONNX form here", net.Norm)
	}
	if d := net.Inputs(); d != cifar.D || len(ck.Mean) != cifar.D {
		return 0, fmt.Errorf("the net takes %d inputs (mean image of %d), not CIFAR-10's %d = 3x32x32: only models of CIFAR-10 images can be exported", d, len(ck.Mean), cifar.D)
	}
	g.initializer("mean", []int64{cifar.D}, ck.Mean)
	g.node("Flatten", "flatten", []string{Input}, "x", attrInt("axis", 1))
	h := g.node("Sub", "sub_mean", []string{"x", "mean"}, "x_centred")
	for l, layer := range net.Layers {
		n := strconv.Itoa(l + 1)
		in, out := layer.W.Dims()
		g.initializer("W"+n, []int64{int64(in), int64(out)}, dense(layer.W))
		g.initializer("b"+n, []int64{int64(out)}, layer.B)
		h = g.node("MatMul", "matmul"+n, []string{h, "W" + n}, "z"+n)
		h = g.node("Add", "add"+n, []string{h, "b" + n}, "a"+n)
		if l == len(net.Layers)-1 {
			break
		}
		if net.Norm == model.LayerNorm {
			g.initializer("gamma"+n, []int64{int64(out)}, layer.Gamma)
			g.initializer("beta"+n, []int64{int64(out)}, layer.Beta)
			h = g.node("LayerNormalization", "layernorm"+n, []string{h, "gamma" + n, "beta" + n}, "n"+n,
				attrInt("axis", -1), attrFloat("epsilon", model.NormEps))
		}
		h = g.node("Relu", "relu"+n, []string{h}, "h"+n)
	}
	g.node("Softmax", "softmax", []string{h}, Output, attrInt("axis", -1))
	return net.Classes(), nil
}

// Marshal encodes m deterministically: the same model, the same bytes.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// metadata returns the class names (a JSON array) and the run's config
// (its JSON object, "{}" if unknown) from a checkpoint's metadata; a model
// without names (from numpy) of ten classes has CIFAR-10's.
func metadata(raw json.RawMessage, c int) (classes, config string) {
	var meta struct {
		Config  json.RawMessage `json:"config"`
		Classes []string        `json:"classes"`
	}
	_ = json.Unmarshal(raw, &meta) // no metadata, or not nettrain's: the defaults below
	names := meta.Classes
	if len(names) != c {
		names = nil
		if c == len(cifar.DefaultClassNames) {
			names = cifar.DefaultClassNames
		}
	}
	for len(names) < c {
		names = append(names, "class "+strconv.Itoa(len(names)))
	}
	b, _ := json.Marshal(names) // strings only
	config = "{}"
	if len(meta.Config) > 0 && json.Valid(meta.Config) {
		var compact map[string]any
		if json.Unmarshal(meta.Config, &compact) == nil {
			cb, _ := json.Marshal(compact) // keys sorted: the same text for the same config
			config = string(cb)
		}
	}
	return string(b), config
}

// dense returns the entries of w row by row.
func dense(w *mat.Dense) []float64 {
	rm := w.RawMatrix()
	if rm.Stride == rm.Cols {
		return rm.Data[:rm.Rows*rm.Cols]
	}
	v := make([]float64, 0, rm.Rows*rm.Cols)
	for i := range rm.Rows {
		v = append(v, rm.Data[i*rm.Stride:i*rm.Stride+rm.Cols]...)
	}
	return v
}

// graph collects a graph's nodes and initializers as Export adds them.
type graph struct {
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	err   error
}

// node adds an operator and returns the name of its output.
func (g *graph) node(op, name string, inputs []string, output string, attrs ...*onnxpb.AttributeProto) string {
	g.nodes = append(g.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: inputs, Output: []string{output}, Attribute: attrs})
	return output
}

// initializer adds a float32 constant of the given shape, refusing values
// that are not finite or do not fit float32.
func (g *graph) initializer(name string, shape []int64, v []float64) {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		f := float32(x)
		if math.IsNaN(x) || math.IsInf(float64(f), 0) {
			if g.err == nil {
				g.err = fmt.Errorf("%s[%d] is %v, not a finite float32: the checkpoint is damaged or its run diverged", name, i, x)
			}
			return
		}
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	g.inits = append(g.inits, &onnxpb.TensorProto{
		Name: proto.String(name), Dims: shape, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw,
	})
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func dim(param string) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: param}}
}

func dimN(n int64) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: n}}
}

// tensorInfo describes a float32 tensor of the graph's interface.
func tensorInfo(name, doc string, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{
		Name:      proto.String(name),
		DocString: proto.String(doc),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}
