package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fetch"
)

func newDataCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Fetch CIFAR-10, or tell what a dataset holds",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("data needs a subcommand: fetch or info")
		},
	}
	cmd.AddCommand(newDataFetchCmd(e), newDataInfoCmd(e))
	return cmd
}

func newDataFetchCmd(e env) *cobra.Command {
	var dir, url, sumsFile string
	var retries int
	var quiet bool
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download the CIFAR-10 binary archive, verify it and unpack it",
		Long: `Download cifar-10-binary.tar.gz (about 162 MiB) from the official site into
DIR/cifar-10-batches-bin: a progress bar on a terminal, a partial download
resumed, network errors retried, each batch's MD5 checked against the
official ones before the files are moved into place. Does nothing when the
verified files are already there; repairs missing or damaged batches in
place, touching no other file. Prints the data directory on stdout.
scripts/get_cifar10.sh (make data) runs this command.`,
		Example: `  nettrain data fetch
  nettrain data fetch --dir /datasets && nettrain train --data /datasets/cifar-10-batches-bin`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if retries < 1 {
				return usageErrorf("--retries is %d, want at least 1", retries)
			}
			f := fetch.Fetcher{URL: url, Sums: e.sums, Retries: retries}
			if sumsFile != "" {
				sums, err := fetch.ReadSums(sumsFile)
				if err != nil {
					return err
				}
				f.Sums = sums
			}
			if !quiet {
				f.Log = func(format string, args ...any) { fmt.Fprintf(stderr, "nettrain: "+format+"\n", args...) }
				if e.isTerminal(stderr) {
					f.Progress = func(total, done int64) io.Writer {
						bar := progressbar.NewOptions64(total,
							progressbar.OptionSetWriter(stderr),
							progressbar.OptionSetDescription("cifar-10-binary.tar.gz"),
							progressbar.OptionShowBytes(true),
							progressbar.OptionSetPredictTime(true),
							progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
						)
						bar.Set64(done)
						return bar
					}
				}
			}
			e.stopCleanly() // a cancelled download keeps its part file to resume
			dest, err := f.Fetch(cmd.Context(), dir)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), dest)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "data", "directory to put cifar-10-batches-bin in")
	cmd.Flags().StringVar(&url, "url", fetch.OfficialURL, "archive address (http, https, or file:///path/to/cifar-10-binary.tar.gz)")
	cmd.Flags().IntVar(&retries, "retries", 5, "download attempts on network errors")
	cmd.Flags().StringVar(&sumsFile, "md5sums", "", "check the batches against this md5sum-format file instead of the official sums (a private copy)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress or log output on stderr")
	return cmd
}

type dataInfo struct {
	Path      string            `json:"path"`
	Format    string            `json:"format"`
	Train     int               `json:"train_images"`
	Test      int               `json:"test_images"`
	Classes   []string          `json:"classes"`
	Splits    map[string][]int  `json:"split_class_counts"` // split -> count per class
	Checksums map[string]string `json:"checksums"`
	Official  bool              `json:"checksums_official"`
	MeanRGB   [3]float64        `json:"mean_rgb"` // of the train split
	Mean      float64           `json:"mean"`
}

func newDataInfoCmd(e env) *cobra.Command {
	var data string
	var sizes cifar.Sizes
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Tell what a CIFAR-10 dataset holds, and whether it is intact",
		Long: `Read a dataset (binary or Python directory, or either .tar.gz) and print its
format, the images per split and class, the MD5 of each batch (as the binary
file would hold it, whatever the format) against the official sums, and the
mean pixel of the train split. Exit status 1 if a checksum differs.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDataInfo(cmd.Context(), dataDir(data, e), sizes, asJSON, cmd.OutOrStdout(), e)
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", dataFlagHelp)
	f.IntVar(&sizes.Train, "num-train", cifar.DefaultNumTrain, "training images")
	f.IntVar(&sizes.Val, "num-val", cifar.DefaultNumVal, "validation images")
	f.IntVar(&sizes.Test, "num-test", cifar.DefaultNumTest, "test images")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	return cmd
}

func runDataInfo(_ context.Context, path string, sz cifar.Sizes, asJSON bool, stdout io.Writer, e env) error {
	if err := sz.Check(cifar.TrainBatches*cifar.RecordsPerBatch, cifar.RecordsPerBatch); err != nil {
		return usageError{err}
	}
	ds, err := e.loader.Load(path)
	if err != nil {
		return err
	}
	sp, err := ds.Split(sz)
	if err != nil {
		return usageError{err}
	}
	info := dataInfo{Path: ds.Path, Format: ds.Format, Train: ds.Train.N(), Test: ds.Test.N(), Classes: ds.Classes,
		Splits: map[string][]int{}, Checksums: ds.Checksums(), Official: true}
	for name, s := range map[string]cifar.Set{"train": sp.Train, "val": sp.Val, "test": sp.Test} {
		counts := make([]int, cifar.Classes)
		for _, y := range s.Y {
			counts[y]++
		}
		info.Splits[name] = counts
	}
	sums := e.sums
	if sums == nil {
		sums = cifar.OfficialMD5
	}
	var bad []string
	for _, name := range cifar.BatchFiles {
		if info.Checksums[name] != sums[name] {
			info.Official = false
			bad = append(bad, name)
		}
	}
	mean := cifar.Mean(sp.Train)
	plane := cifar.Height * cifar.Width
	for c := range 3 {
		for _, v := range mean[c*plane : (c+1)*plane] {
			info.MeanRGB[c] += v / float64(plane)
		}
	}
	info.Mean = (info.MeanRGB[0] + info.MeanRGB[1] + info.MeanRGB[2]) / 3

	if asJSON {
		if err := writeJSON(stdout, info); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "path:    %s\nformat:  %s\nimages:  %d training, %d test\n\n", info.Path, info.Format, info.Train, info.Test)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "class\ttrain %d\tval %d\ttest %d\t\n", sz.Train, sz.Val, sz.Test)
		for k, name := range info.Classes {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", name, info.Splits["train"][k], info.Splits["val"][k], info.Splits["test"][k])
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\nMD5 of each batch, against the official binary files:\n")
		names := append([]string(nil), cifar.BatchFiles...)
		sort.Strings(names)
		for _, name := range names {
			verdict := "ok"
			if info.Checksums[name] != sums[name] {
				verdict = "MISMATCH"
			}
			fmt.Fprintf(stdout, "  %-17s %s  %s\n", name, info.Checksums[name], verdict)
		}
		fmt.Fprintf(stdout, "\nmean pixel of the train split: R %.2f  G %.2f  B %.2f  (all %.2f)\n", info.MeanRGB[0], info.MeanRGB[1], info.MeanRGB[2], info.Mean)
	}
	if bad != nil {
		return fmt.Errorf("%s: %s differ from the official CIFAR-10 (damaged or modified data? fetch it again with 'nettrain data fetch')", path, strings.Join(bad, ", "))
	}
	return nil
}
