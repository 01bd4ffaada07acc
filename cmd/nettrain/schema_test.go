package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

// hostile are the values every numeric setting is tried with, as a flag
// would take them, and as YAML writes them.
var hostile = []struct{ flag, yaml string }{
	{"NaN", ".nan"}, {"+Inf", ".inf"}, {"-Inf", "-.inf"}, {"-0", "-0.0"}, {"1e309", "1e309"},
	{"-1", "-1"}, {"0", "0"}, {"9223372036854775808", "9223372036854775808"},
}

// A table generated from the schema: every numeric setting with every
// hostile value, through train's flags, sweep's flags, a sweep file and a
// resumed checkpoint's config. A value the schema refuses is refused before
// any work, with one line naming the flag (or key) and exit 2 (1 for a
// file), and nothing is written.
func TestHostileSettingsEverywhere(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--hidden", "4", "--out", good, "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	outs := filepath.Join(tmp, "outs")
	os.Mkdir(outs, 0o755)
	expect := func(t *testing.T, what string, r result, code int, names string) {
		t.Helper()
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if r.code != code || !strings.Contains(first, names) || !strings.HasPrefix(first, "nettrain: ") {
			t.Errorf("%s: exit %d (want %d), first line %q does not name %s", what, r.code, code, first, names)
		}
		if code == 1 && rest != "" {
			t.Errorf("%s: more than one line: %q", what, r.stderr)
		}
		if entries, _ := os.ReadDir(outs); len(entries) != 0 {
			t.Errorf("%s wrote %s", what, entries[0].Name())
			os.RemoveAll(outs)
			os.Mkdir(outs, 0o755)
		}
	}
	for _, s := range trainrun.Schema {
		if s.Kind != trainrun.Float && s.Kind != trainrun.Int {
			continue // seeds take every value; the rest are not numbers
		}
		for _, v := range hostile {
			c := trainrun.Defaults()
			if c.Set(s.Key, v.flag) == nil && c.Validate() == nil {
				continue // in range: trained by other tests
			}
			name := s.Key + "=" + v.flag
			flag := "--" + s.Flag()
			t.Run(name, func(t *testing.T) {
				args := append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--out", filepath.Join(outs, "m.npz")}, small...)
				expect(t, "train "+flag, runCmd(t, testEnv(), append(args, flag+"="+v.flag)...), 2, flag)

				if s.Key == "num_test" {
					return // the sweep's own --num-test; not in a sweep file
				}
				sw := []string{"sweep", "--data", data, "--out", filepath.Join(outs, "sw"), "--trials", "1", "-q"}
				for _, kv := range [][2]string{{"iters", "2"}, {"batch", "5"}, {"num_train", "150"}, {"num_val", "30"}, {"num_test", "20"}} {
					if kv[0] != s.Key { // the file's value is not overridden by a flag
						sw = append(sw, "--"+strings.ReplaceAll(kv[0], "_", "-"), kv[1])
					}
				}
				expect(t, "sweep "+flag, runCmd(t, testEnv(), append(sw, flag+"="+v.flag)...), 2, flag)

				cfg := filepath.Join(tmp, "sweep.yaml")
				os.WriteFile(cfg, []byte(s.Key+": "+v.yaml+"\n"), 0o644)
				expect(t, "sweep file "+s.Key, runCmd(t, testEnv(), append(sw, "--config", cfg)...), 1, s.Key)

				// A checkpoint's config holds what JSON can: not NaN or infinities.
				f, err := strconv.ParseFloat(v.flag, 64)
				if err != nil || f != f || f > 1e308 || f < -1e308 {
					return
				}
				ck, err := checkpoint.Load(good)
				if err != nil {
					t.Fatal(err)
				}
				var meta map[string]any
				json.Unmarshal(ck.Meta, &meta)
				meta["config"].(map[string]any)[s.Key] = json.RawMessage(v.flag)
				ck.Meta, _ = json.Marshal(meta)
				bad := filepath.Join(tmp, "bad.npz")
				if err := checkpoint.Save(bad, ck); err != nil {
					t.Fatal(err)
				}
				r := runCmd(t, testEnv(), "train", "--resume", bad, "--data", data, "--out", filepath.Join(outs, "r.npz"))
				expect(t, "resume with "+s.Key, r, 1, "its config is invalid: "+flag)
			})
		}
	}
}

// --norm-track, the setting added to show what adding one touches (its
// schema entry, its Config field, and the code that uses it): it reaches
// the training loop (another weight gives other running statistics, so
// other folded weights), the checkpoint's config records it, a resume
// carries it on and refuses a flag that contradicts it, and a sweep file
// sets it for every trial.
func TestNormTrackSetting(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	train := func(name string, extra ...string) (string, result) {
		out := filepath.Join(tmp, name+".npz")
		args := append([]string{"train", "--data", data, "--iters", "30", "--batch", "10", "--hidden", "12,8", "--norm", "batch", "--lr", "1e-2", "--std", "1e-2", "-q", "--out", out}, small...)
		return out, runCmd(t, testEnv(), append(args, extra...)...)
	}
	config := func(path string) trainrun.Config {
		t.Helper()
		ck, err := checkpoint.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := trainrun.ParseMeta(ck.Meta)
		if err != nil {
			t.Fatal(err)
		}
		return m.Config
	}
	def, r1 := train("default")
	explicit, r2 := train("explicit", "--norm-track", "0.1")
	other, r3 := train("other", "--norm-track", "0.5")
	for _, r := range []result{r1, r2, r3} {
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	if weightsHash(t, def) != weightsHash(t, explicit) {
		t.Error("--norm-track 0.1 trains another net than the default")
	}
	if weightsHash(t, def) == weightsHash(t, other) {
		t.Error("--norm-track 0.5 trains the same net as 0.1: the setting does not reach the loop")
	}
	if c := config(other); c.NormTrack != 0.5 {
		t.Errorf("the checkpoint records norm_track %v, want 0.5", c.NormTrack)
	}
	if c := config(def); c.NormTrack != 0.1 {
		t.Errorf("the default checkpoint records norm_track %v, want 0.1", c.NormTrack)
	}

	// Resume: the checkpoint's value carries on; a flag that contradicts it is refused.
	half, r := train("half", "--norm-track", "0.5", "--iters", "15")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := runCmd(t, testEnv(), "train", "--resume", half, "--data", data, "--iters", "30", "--norm-track", "0.2", "-q"); r.code != 2 || !strings.Contains(r.stderr, "--norm-track") {
		t.Errorf("resume with another --norm-track: exit %d, %q", r.code, r.stderr)
	}
	if r := runCmd(t, testEnv(), "train", "--resume", half, "--data", data, "--iters", "30", "-q"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if weightsHash(t, half) != weightsHash(t, other) {
		t.Error("a resumed --norm-track 0.5 run does not end where the uninterrupted one did")
	}

	// A sweep file sets it for every trial.
	cfg := filepath.Join(tmp, "sweep.yaml")
	os.WriteFile(cfg, []byte("norm: batch\nnorm_track: 0.5\nhidden: [\"12-8\"]\n"), 0o644)
	sw := filepath.Join(tmp, "sw")
	if r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", sw, "--config", cfg, "--trials", "1", "--iters", "5", "--batch", "10", "-q"}, small...)...); r.code != 0 {
		t.Fatalf("sweep: exit %d %s", r.code, r.stderr)
	}
	if c := config(filepath.Join(sw, "best.npz")); c.NormTrack != 0.5 || c.Norm != "batch" {
		t.Errorf("the sweep's trial has norm %q, norm_track %v; want batch, 0.5", c.Norm, c.NormTrack)
	}
}
