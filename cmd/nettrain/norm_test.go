package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sweep"
)

// --norm end to end, for each normalisation: train records it, the
// checkpoint holds batch norm folded (plain W and b, the unfolded state
// beside them for resuming) and layer norm as gamma and beta, eval scores
// what train reported, a run stopped and resumed ends bit for bit where an
// uninterrupted one does, and a --norm that contradicts the checkpoint is a
// usage error.
func TestNormCommands(t *testing.T) {
	data := fixtureDir(t)
	for _, norm := range []model.Norm{model.BatchNorm, model.LayerNorm} {
		t.Run(string(norm), func(t *testing.T) {
			tmp := t.TempDir()
			opts := []string{"--data", data, "--hidden", "16,12", "--batch", "10", "--lr", "0.05", "--std", "1e-2", "--optimizer", "nesterov",
				"--dropout", "0.2", "--flip", "--translate", "1", "--preprocess", "channel", "--keep-best", "--norm", string(norm), "-q"}
			opts = append(opts, small...)
			full := filepath.Join(tmp, "full.npz")
			r := runCmd(t, testEnv(), append([]string{"train", "--iters", "40", "--out", full, "--json"}, opts...)...)
			if r.code != 0 {
				t.Fatalf("train: exit %d\n%s", r.code, r.stderr)
			}
			var res struct {
				Config map[string]any `json:"config"`
				ValAcc float64        `json:"val_acc"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.stdout)
			}
			if res.Config["norm"] != string(norm) {
				t.Errorf("--json config norm %v, want %s", res.Config["norm"], norm)
			}
			ck, err := checkpoint.Load(full)
			if err != nil {
				t.Fatal(err)
			}
			if meta, ok := trainrun.ReadMeta(ck.Meta); !ok || meta.Config.Norm != norm {
				t.Errorf("metadata %s", ck.Meta)
			}
			want := []string{"opt.v.gamma1", "opt.v.beta2", "best.gamma2"}
			if norm == model.BatchNorm {
				// Folded: eval (and numpy) see a plain net.
				if ck.Net.Norm != model.NoNorm || ck.Net.Layers[0].Gamma != nil {
					t.Errorf("batch norm saved unfolded: norm %q", ck.Net.Norm)
				}
				want = append(want, "train.gamma1", "train.beta1", "train.running_mean1", "train.running_var2", "best.running_mean2")
				// Training kept the running statistics (they start at 0).
				for i, v := range ck.Extra["train.running_var1"] {
					if !(v > 0) {
						t.Fatalf("train.running_var1[%d] = %v after 40 iterations", i, v)
					}
				}
			} else if ck.Net.Norm != model.LayerNorm || len(ck.Net.Layers[1].Gamma) != 12 {
				t.Errorf("layer norm saved as %q without gamma2", ck.Net.Norm)
			}
			for _, name := range want {
				if _, ok := ck.Extra[name]; !ok {
					t.Errorf("the checkpoint lacks %s", name)
				}
			}

			part := checkEvalAndResume(t, data, opts, full, res.ValAcc)

			other := map[model.Norm]string{model.BatchNorm: "layer", model.LayerNorm: "batch"}[norm]
			r = runCmd(t, testEnv(), "train", "--resume", part, "--iters", "40", "--data", data, "--norm", other, "--out", filepath.Join(tmp, "x.npz"))
			if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 2 || !strings.Contains(first, "--norm "+other+" contradicts") {
				t.Errorf("resume with --norm %s: exit %d, %q", other, r.code, r.stderr)
			}

			// gradcheck of the normalisation on the toy problem and on images.
			for _, args := range [][]string{
				{"gradcheck", "--hidden", "8,6", "--norm", string(norm), "--dropout", "0.3", "--json"},
				{"gradcheck", "--hidden", "6", "--norm", string(norm), "--data", data, "--json"},
			} {
				r := runCmd(t, testEnv(), args...)
				var gc struct {
					OK     bool
					Params []struct{ Param string }
				}
				if err := json.Unmarshal([]byte(r.stdout), &gc); err != nil || r.code != 0 || !gc.OK {
					t.Errorf("%v: exit %d, %v\n%s%s", args, r.code, err, r.stdout, r.stderr)
				}
				if !slices.ContainsFunc(gc.Params, func(p struct{ Param string }) bool { return p.Param == "gamma1" }) {
					t.Errorf("%v: checked %+v, no gamma1", args, gc.Params)
				}
			}
		})
	}

	// Nonsense is one error line naming the flag.
	for _, cmd := range [][]string{
		{"train", "--data", data, "--norm", "group", "--out", filepath.Join(t.TempDir(), "m.npz")},
		{"gradcheck", "--norm", "group"},
		{"sweep", "--data", data, "--norm", "group", "--out", filepath.Join(t.TempDir(), "sw")},
	} {
		r := runCmd(t, testEnv(), cmd...)
		if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 2 || !strings.Contains(first, "--norm") || !strings.Contains(first, `"group"`) {
			t.Errorf("%s --norm group: exit %d %q", cmd[0], r.code, r.stderr)
		}
	}
}

// A sweep takes norm as any option: its trials train and record it, and its
// best checkpoint is folded as train's is.
func TestSweepNorm(t *testing.T) {
	data := fixtureDir(t)
	dir := filepath.Join(t.TempDir(), "sw")
	r := runCmd(t, testEnv(), "sweep", "--data", data, "--out", dir, "--num-train", "150", "--num-val", "30", "--num-test", "20",
		"--mode", "grid", "--hidden", "8,12-6", "--lr", "0.01", "--reg", "0.1", "--iters", "10", "--batch", "10", "--workers", "2",
		"--norm", "batch", "--json", "-q")
	if r.code != 0 {
		t.Fatalf("sweep: exit %d\n%s", r.code, r.stderr)
	}
	var sum sweep.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.OK != 2 || sum.Best == nil {
		t.Fatalf("summary %+v (%v)\n%s", sum, err, r.stdout)
	}
	best, err := checkpoint.Load(filepath.Join(dir, "best.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if meta, ok := trainrun.ReadMeta(best.Meta); !ok || meta.Config.Norm != model.BatchNorm || meta.Nettrain == "" || len(meta.Classes) != 10 {
		t.Errorf("best.npz trained without batch norm, or without the version or class names: %s", best.Meta)
	}
	if _, ok := best.Extra["train.running_var1"]; !ok || best.Net.Norm != model.NoNorm {
		t.Errorf("best.npz: norm %q, extra arrays %d", best.Net.Norm, len(best.Extra))
	}
}
