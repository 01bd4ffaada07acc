package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every line of a results file is checked: lines that someone else wrote
// ({} or null that read as trial 0, negative trials, checkpoints that name
// other files, statuses that do not exist) and torn or endless lines are
// skipped, each with its line number and why; whole lines are kept.
func TestReadResultsValidates(t *testing.T) {
	good := func(trial int, acc float64) string {
		b, _ := json.Marshal(Result{Trial: trial, Config: Trial{Index: trial}, Iters: 10, Status: StatusOK, ValAcc: acc, TrainAcc: ptr(0.5), FinalLoss: 2, Checkpoint: CheckpointName(trial, 0)})
		return string(b)
	}
	edit := func(line string, f func(map[string]any)) string {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	lines := []struct {
		text, why string // why is "" for a line that must be kept
	}{
		{good(0, 0.3), ""},
		{"{}", `no "trial"`},
		{"null", "not a JSON object"},
		{"[1,2]", "not a JSON object"},
		{edit(good(1, 0.9), func(m map[string]any) { m["trial"] = -1 }), "trial -1 out of range"},
		{edit(good(1, 0.9), func(m map[string]any) { m["checkpoint"] = "" }), `checkpoint ""`},
		{edit(good(1, 0.9), func(m map[string]any) { m["checkpoint"] = "../../../../etc/shadow" }), "../../../../etc/shadow"},
		{edit(good(1, 0.9), func(m map[string]any) { m["checkpoint"] = CheckpointName(2, 0) }), "want \"trials/0001-rung0.npz\""},
		{edit(good(1, 0.9), func(m map[string]any) { m["status"] = "great" }), `status "great"`},
		{edit(good(1, 0.9), func(m map[string]any) { m["val_acc"] = 7 }), "outside 0..1"},
		{edit(good(1, 0.9), func(m map[string]any) { m["trial"] = "one" }), "wrong type"},
		{edit(good(1, 0.9), func(m map[string]any) { delete(m, "status") }), `no "status"`},
		{edit(good(1, 0.9), func(m map[string]any) { m["config"] = map[string]any{"trial": 5} }), "config of trial 5"},
		{`{"trial": 3, "rung": 0, "config": {"trial": 3}, "iters": 5, "status": "diverged", "error": "NaN"}`, ""},
		{`{"trial":` + strings.Repeat(" ", 2<<20) + `1}`, "longer than"},
		{good(4, 0.4), ""},
		{edit(good(1, 0.9), func(m map[string]any) { m["train_acc"] = 1.5 }), "train_acc 1.5 outside 0..1"},
		{edit(good(6, 0.6), func(m map[string]any) { delete(m, "train_acc") }), ""}, // skip_train_score
		{good(5, 0.5)[:30], "not a JSON object"},                                    // torn last line, no newline
	}
	var text []string
	for _, l := range lines {
		text = append(text, l.text)
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	os.WriteFile(path, []byte(strings.Join(text, "\n")), 0o644)
	res, skipped, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []int
	for _, r := range res {
		kept = append(kept, r.Trial)
	}
	if fmt.Sprint(kept) != "[0 3 4 6]" {
		t.Errorf("kept trials %v, want [0 3 4 6]", kept)
	}
	var want []string
	for i, l := range lines {
		if l.why != "" {
			want = append(want, fmt.Sprintf("results.jsonl:%d: ", i+1))
		}
	}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %d lines, want %d:\n%s", len(skipped), len(want), strings.Join(skipped, "\n"))
	}
	j := 0
	for i, l := range lines {
		if l.why == "" {
			continue
		}
		if !strings.HasPrefix(skipped[j], fmt.Sprintf("results.jsonl:%d: ", i+1)) || !strings.Contains(skipped[j], l.why) {
			t.Errorf("line %d: skipped as %q, want %q", i+1, skipped[j], l.why)
		}
		j++
	}
}

// A results file that is a FIFO or a symlink is refused, not followed or
// waited on.
func TestReadResultsRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("{}\n"), 0o600)
	link := filepath.Join(dir, "results.jsonl")
	os.Symlink(secret, link)
	if _, _, err := ReadResults(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlinked results file: err %v", err)
	}
}

// The best model of a shared sweep directory is a checkpoint, never a file
// planted there: a symlink in trials/, trials/ itself a symlink, or a file
// that is not a checkpoint under the right name. SaveBest passes over each,
// says so, and saves the next best trial whose checkpoint is one.
func TestSaveBestRefusesPlantedFiles(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	s := testSpace()
	s.Trials = 3
	run(t, &Runner{Space: s, Dir: dir, Data: data})
	results, _, err := ReadResults(filepath.Join(dir, "results.jsonl"))
	if err != nil || len(results) != 3 {
		t.Fatalf("%d results, %v", len(results), err)
	}
	ranked := Latest(results)
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "shadow")
	os.WriteFile(secret, []byte("root:secret\n"), 0o600)
	first := filepath.Join(dir, CheckpointName(ranked[0].Trial, 0))
	second := filepath.Join(dir, CheckpointName(ranked[1].Trial, 0))
	os.Remove(first)
	os.Symlink(secret, first)                                                      // best: a link to a secret
	os.WriteFile(second, []byte("root:secret\n"), 0o644)                           // second: not a checkpoint
	want, _ := os.ReadFile(filepath.Join(dir, CheckpointName(ranked[2].Trial, 0))) // third: fine

	var warned []string
	dst := filepath.Join(dir, "best.npz")
	got, ck, err := SaveBest(dst, ranked, func(s string) { warned = append(warned, s) })
	if err != nil || got.Trial != ranked[2].Trial || ck == nil {
		t.Fatalf("SaveBest: trial %d, %v; want trial %d", got.Trial, err, ranked[2].Trial)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, want) {
		t.Error("best.npz is not the third trial's checkpoint")
	}
	if len(warned) != 2 || !strings.Contains(warned[0], "symbolic link") || !strings.Contains(warned[1], "not an .npz") {
		t.Errorf("warnings %q", warned)
	}

	// trials/ itself a symlink to a directory of planted files.
	os.Rename(filepath.Join(dir, "trials"), filepath.Join(dir, "real-trials"))
	os.Symlink(filepath.Join(dir, "real-trials"), filepath.Join(dir, "trials"))
	if _, _, err := SaveBest(filepath.Join(dir, "best2.npz"), ranked[2:], nil); err == nil {
		t.Error("SaveBest read through a symlinked trials directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "best2.npz")); err == nil {
		t.Error("best2.npz written")
	}
}

func ptr(v float64) *float64 { return &v }
