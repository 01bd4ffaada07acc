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
