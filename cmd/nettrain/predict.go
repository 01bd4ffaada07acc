package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fsutil"
)

type predictOptions struct {
	model string
	top   int
	json  bool
}

// maxImageFile bounds an image file's bytes.
const maxImageFile = 64 << 20

func newPredictCmd(e env) *cobra.Command {
	var o predictOptions
	cmd := &cobra.Command{
		Use:   "predict --model M IMAGE...",
		Short: "Classify PNG or JPEG images with a trained model",
		Long: `Classify each image with the model and print its most probable classes
with their softmax probabilities. An image that is not 32x32 is cropped to
its centre square and scaled to 32x32 (Catmull-Rom), as CIFAR-10's images
are; the model's own mean image is subtracted, as in training. Scores are
computed in float64. Transparent pixels count as black.`,
		Example: `  nettrain predict --model best.npz cat.png truck.jpg
  nettrain predict --model best.npz --top 1 --json photos/*.jpg`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, images []string) error {
			return runPredict(o, images, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "nettrain-model.npz", "checkpoint to classify with")
	f.IntVar(&o.top, "top", 3, "classes to print for each image")
	f.BoolVar(&o.json, "json", false, "print one JSON array of results")
	return cmd
}

type classProb struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"`
	Probability float64 `json:"probability"`
}

type prediction struct {
	Image   string      `json:"image"`
	Resized bool        `json:"resized"`
	Top     []classProb `json:"top"`
}

func runPredict(o predictOptions, images []string, stdout io.Writer) error {
	ck, err := checkpoint.Load(o.model)
	if err != nil {
		return err
	}
	d, c := ck.Inputs(), ck.Classes()
	if d != cifar.D {
		return fmt.Errorf("model %s takes %d inputs, not CIFAR-10's %d (32x32 RGB)", o.model, d, cifar.D)
	}
	if o.top < 1 {
		return usageErrorf("--top is %d, want at least 1", o.top)
	}
	classes := cifar.DefaultClassNames
	var meta struct {
		Classes []string `json:"classes"`
	}
	if ck.Meta != nil && json.Unmarshal(ck.Meta, &meta) == nil && len(meta.Classes) == c {
		classes = meta.Classes
	}
	if len(classes) != c {
		classes = make([]string, c)
		for k := range classes {
			classes[k] = fmt.Sprintf("class %d", k)
		}
	}
	x := make([]float64, d)
	var out []prediction
	for _, path := range images {
		pix, resized, err := readImage(path)
		if err != nil {
			return err
		}
		for j, p := range pix {
			x[j] = float64(p) - ck.Mean[j]
		}
		probs := ck.Probabilities(x)
		for _, p := range probs {
			if math.IsNaN(p) || math.IsInf(p, 0) {
				return fmt.Errorf("%s: model %s gives scores that are not finite (weights too large, or NaN): no prediction", path, o.model)
			}
		}
		order := make([]int, c)
		for k := range order {
			order[k] = k
		}
		// Most probable first; ties to the lower class, as Predict.
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case probs[a] > probs[b]:
				return -1
			case probs[a] < probs[b]:
				return 1
			}
			return 0
		})
		p := prediction{Image: path, Resized: resized}
		for _, k := range order[:min(o.top, c)] {
			p.Top = append(p.Top, classProb{classes[k], k, probs[k]})
		}
		out = append(out, p)
	}
	if o.json {
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, p := range out {
		fmt.Fprintf(tw, "%s", p.Image)
		for _, cp := range p.Top {
			fmt.Fprintf(tw, "\t%s %.3f", cp.Class, cp.Probability)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// readImage reads the image file at path as CIFAR-10 pixels.
func readImage(path string) ([]uint8, bool, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxImageFile {
		return nil, false, fmt.Errorf("%s is %d bytes, more than the %d MiB an image may be", path, st.Size(), maxImageFile>>20)
	}
	img, _, err := cifar.DecodeImage(f)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	pix, resized := cifar.FromImage(img)
	return pix, resized, nil
}
