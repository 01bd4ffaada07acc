package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/plots"
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
			losses, epochs, err := readMetrics(args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			var net *model.Net
			if modelPath != "" {
				ck, err := checkpoint.Load(modelPath)
				if err != nil {
					return err
				}
				net = ck.Net
			}
			written, err := writeRunPlots(out, losses, epochs, net)
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

// readMetrics reads the loss of every iteration and the epoch records from
// a train --metrics file (a resumed run's file holds the whole run).
func readMetrics(path string) ([]float64, []sgd.Epoch, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	// Does the file end inside a line (a writer killed mid-line)?
	torn := false
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		var last [1]byte
		_, err := f.ReadAt(last[:], st.Size()-1)
		torn = err == nil && last[0] != '\n'
	}
	var losses []float64
	var epochs []sgd.Epoch
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20) // a metrics line is under 1 KB
	line := 0
	for sc.Scan() {
		line++
		var ev struct {
			Event string `json:"event"`
			sgd.Epoch
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			if torn && !sc.Scan() && sc.Err() == nil {
				break // the last line, torn by a killed writer: the run up to it
			}
			return nil, nil, fmt.Errorf("%s:%d: not a JSON object (%v); want the file train --metrics writes", path, line, err)
		}
		switch ev.Event {
		case "iter":
			// An interrupted run's file may repeat iterations a resume redid.
			if ev.Iter >= 1 && ev.Iter <= len(losses) {
				losses = losses[:ev.Iter-1]
			}
			losses = append(losses, ev.Loss)
		case "epoch":
			epochs = append(epochs, ev.Epoch)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s:%d: %v; want the file train --metrics writes", path, line+1, err)
	}
	if len(losses) == 0 {
		return nil, nil, fmt.Errorf("%s has no iteration events; want the file train --metrics writes", path)
	}
	return losses, epochs, nil
}

// writeRunPlots writes loss.png, accuracy.png and, with a net, weights.png
// into dir, and returns the files written.
func writeRunPlots(dir string, losses []float64, epochs []sgd.Epoch, net *model.Net) ([]string, error) {
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
