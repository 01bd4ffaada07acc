package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", path, err)
	}
	return cfg.Width, cfg.Height
}

func TestPlots(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out, metrics, dir := filepath.Join(tmp, "m.npz"), filepath.Join(tmp, "m.jsonl"), filepath.Join(tmp, "plots")
	// 20 hidden units: a 5x5 grid of tiles, 5*32+4 = 164 pixels, times 3.
	r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--hidden", "20", "--iters", "30", "--batch", "10", "-q", "--out", out, "--metrics", metrics, "--plots", dir}, small...)...)
	if r.code != 0 {
		t.Fatalf("train --plots: exit %d %s", r.code, r.stderr)
	}
	want := map[string][2]int{"loss.png": {768, 480}, "accuracy.png": {768, 480}, "weights.png": {164 * weightScale, 164 * weightScale}}
	for name, size := range want {
		if w, h := pngSize(t, filepath.Join(dir, name)); w != size[0] || h != size[1] {
			t.Errorf("train --plots: %s is %dx%d, want %dx%d", name, w, h, size[0], size[1])
		}
	}
	// The same pictures from the metrics file, after the run.
	dir2 := filepath.Join(tmp, "again")
	r = runCmd(t, testEnv(), "plot", metrics, "--model", out, "--out", dir2)
	if r.code != 0 || strings.Count(r.stdout, ".png") != 3 {
		t.Fatalf("plot: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, size := range want {
		if w, h := pngSize(t, filepath.Join(dir2, name)); w != size[0] || h != size[1] {
			t.Errorf("plot: %s is %dx%d", name, w, h)
		}
	}
	// eval --plots: the confusion matrix.
	r = runCmd(t, testEnv(), "eval", "--model", out, "--data", data, "--plots", dir, "-q")
	if r.code != 2 { // -q is not an eval flag
		t.Errorf("eval -q: exit %d", r.code)
	}
	r = runCmd(t, testEnv(), "eval", "--model", out, "--data", data, "--plots", dir)
	if w, h := pngSize(t, filepath.Join(dir, "confusion.png")); r.code != 0 || w != 640+90 || h != 640 { // the matrix and its colour bar
		t.Errorf("eval --plots: exit %d, confusion.png %dx%d", r.code, w, h)
	}
	// sweep: sweep.png in the sweep directory, one panel per hidden size.
	sw := filepath.Join(tmp, "sw")
	r = runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", sw, "-q"}, smallSweep...)...)
	if w, h := pngSize(t, filepath.Join(sw, "sweep.png")); r.code != 0 || w != 2*420+110 || h != 430 { // two panels and the colour bar
		t.Errorf("sweep: exit %d, sweep.png %dx%d", r.code, w, h)
	}
	// Bad metrics files.
	os.WriteFile(filepath.Join(tmp, "bad.jsonl"), []byte("loss 2.3\n"), 0o644)
	r = runCmd(t, testEnv(), "plot", filepath.Join(tmp, "bad.jsonl"), "--out", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "bad.jsonl:1: not a JSON object") {
		t.Errorf("plot of a bad file: exit %d %s", r.code, r.stderr)
	}
	r = runCmd(t, testEnv(), "plot")
	if r.code != 2 {
		t.Errorf("plot without a file: exit %d", r.code)
	}
}
