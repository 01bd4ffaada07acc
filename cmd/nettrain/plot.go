package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/plots"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sgd"
	"github.com/nettrain/nettrain/internal/sweep"
)

// weightScale enlarges each weight pixel, so a 50-unit grid is 789 pixels wide.
const weightScale = 3

func newPlotCmd() *cobra.Command {
	var modelPath, out string
	cmd := &cobra.Command{
		Use:   "plot METRICS.jsonl",
		Short: "Draw a finished run's loss, accuracy and weights as PNG files",
		Long: `Draw the pictures of a run from the metrics file train --metrics wrote:
loss.png (loss per iteration, raw and smoothed) and accuracy.png (train and
validation accuracy per epoch); with --model, weights.png (each first-layer
unit's W1 column as a 32x32 colour tile, as cs231n's show_net_weights).`,
		Example: `  nettrain train --metrics run.jsonl --out run.npz
  nettrain plot run.jsonl --model run.npz --out plots/`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			losses, epochs, err := trainrun.ReadMetrics(args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			var net *model.Net
			var conv *layers.Net[float64]
			if modelPath != "" {
				ck, err := checkpoint.Load(modelPath)
				if err != nil {
					return err
				}
				net, conv = ck.Net, ck.Conv
			}
			written, err := writeRunPlots(out, losses, epochs, net, conv)
			for _, f := range written {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&modelPath, "model", "m", "", "checkpoint whose first-layer weights to draw")
	cmd.Flags().StringVarP(&out, "out", "o", "plots", "directory for the PNG files")
	return cmd
}

// writeRunPlots writes loss.png, accuracy.png and, with a net, weights.png
// into dir, and returns the files written.
func writeRunPlots(dir string, losses []float64, epochs []sgd.Epoch, net *model.Net, conv *layers.Net[float64]) ([]string, error) {
	var written []string
	write := func(name string, draw func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		if err := plots.WriteFile(path, draw); err != nil {
			return err
		}
		written = append(written, path)
		return nil
	}
	if err := write("loss.png", func(w io.Writer) error { return plots.Loss(w, losses) }); err != nil {
		return written, err
	}
	pe := make([]plots.Epoch, len(epochs))
	for i, e := range epochs {
		pe[i] = plots.Epoch{Epoch: e.Epoch, TrainAcc: e.TrainAcc, ValAcc: e.ValAcc}
	}
	if err := write("accuracy.png", func(w io.Writer) error { return plots.Accuracy(w, pe) }); err != nil {
		return written, err
	}
	if net != nil {
		if err := write("weights.png", func(w io.Writer) error { return plots.Weights(w, net, weightScale) }); err != nil {
			return written, err
		}
	}
	if conv != nil { // the first convolution's filters, if the net starts with one
		if c, ok := conv.Layers[0].(*layers.Conv[float64]); ok {
			err := write("weights.png", func(w io.Writer) error { return plots.Filters(w, c.W.V, c.F, c.In.C, c.K) })
			if err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// writeSweepPlot writes sweep.png for the results into dir.
func writeSweepPlot(dir string, results []sweep.Result) error {
	var pts []plots.SweepPoint
	for _, r := range sweep.Latest(results) {
		pts = append(pts, plots.SweepPoint{Hidden: r.Config.Hidden, LR: r.Config.LR, Reg: r.Config.Reg, ValAcc: r.ValAcc})
	}
	return plots.WriteFile(filepath.Join(dir, "sweep.png"), func(w io.Writer) error { return plots.Sweep(w, pts) })
}
