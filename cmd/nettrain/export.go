package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/onnx"
)

type exportOptions struct {
	model, onnx string
}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a saved model as ONNX, for onnxruntime and other runtimes",
		Long: `Write a saved model as an ONNX model (opset ` + fmt.Sprint(onnx.Opset) + `) that takes raw pixels and
returns class probabilities, the preprocessing inside the graph:

  input  "` + onnx.Input + `"        ` + onnx.InputDoc + `
  output "` + onnx.Output + `" ` + onnx.OutputDoc + `

N, the batch, is dynamic. The metadata holds the class names ("classes",
a JSON array) and the run's config ("config", a JSON object). Batch norm is
folded into the affine layers, as in the checkpoint; layer norm is
LayerNormalization. The same checkpoint always gives the same bytes.`,
		Example: `  nettrain export --model nettrain-model.npz
  nettrain export --model best.npz --onnx best.onnx`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&o.model, "model", "m", "nettrain-model.npz", "checkpoint to export (.npz)")
	cmd.Flags().StringVar(&o.onnx, "onnx", "", "where to write the ONNX model (default the checkpoint's name with .onnx)")
	return cmd
}

func runExport(o exportOptions, stdout io.Writer) error {
	if o.onnx == "" {
		o.onnx = strings.TrimSuffix(o.model, ".npz") + ".onnx"
	}
	ck, err := checkpoint.Load(o.model)
	if err != nil {
		return err
	}
	out := fsutil.Output{Name: "--onnx", Path: o.onnx, Also: []fsutil.Input{{Path: o.model, What: "the checkpoint --model names"}}}
	if err := fsutil.CheckOutputs([]fsutil.Output{out}, fsutil.Protected{}); err != nil {
		return err
	}
	m, err := onnx.Export(ck, version())
	if err != nil {
		return fmt.Errorf("%s cannot be exported: %w", o.model, err)
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(o.onnx, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("--onnx %s: %w", o.onnx, err)
	}
	fmt.Fprintf(stdout, "%s: ONNX opset %d, %d bytes; input %s float32 [N,3,32,32], output %s float32 [N,%d]\n",
		o.onnx, onnx.Opset, len(b), onnx.Input, onnx.Output, m.Graph.Output[0].GetType().GetTensorType().GetShape().GetDim()[1].GetDimValue())
	return nil
}
