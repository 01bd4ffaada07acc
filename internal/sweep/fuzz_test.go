package sweep

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadResults: whatever a results file holds, ReadResults returns, and
// every result it keeps is one the sweep could have written: trial and
// rung in range, the trial's own config, a known status, and for an ok
// result the one checkpoint name it may have and accuracies in 0..1. Every
// line is either kept or skipped with a reason.
func FuzzReadResults(f *testing.F) {
	ok, _ := json.Marshal(Result{Trial: 3, Config: Trial{Index: 3}, Iters: 10, Status: StatusOK, ValAcc: 0.4, TrainAcc: ptr(0.5), FinalLoss: 1.5, Checkpoint: CheckpointName(3, 0)})
	f.Add(string(ok) + "\n")
	f.Add(string(ok) + "\n{}\nnull\n" + string(ok[:20]))
	f.Add(`{"trial":0,"rung":0,"config":{"trial":0},"iters":10,"status":"ok","val_acc":1,"train_acc":1,"final_loss":0.1,"checkpoint":"../../etc/shadow"}`)
	f.Add(`{"trial":-1,"rung":0,"config":{"trial":-1},"iters":1,"status":"diverged"}` + "\n")
	path := filepath.Join(f.TempDir(), "results.jsonl")
	f.Fuzz(func(t *testing.T, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		results, skipped, err := ReadResults(path)
		if err != nil {
			return
		}
		lines := 0
		for _, l := range strings.Split(text, "\n") {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		if len(results)+len(skipped) != lines {
			t.Fatalf("%d lines, %d kept and %d skipped", lines, len(results), len(skipped))
		}
		for _, r := range results {
			switch {
			case r.Trial < 0 || r.Trial >= maxTrial || r.Rung < 0 || r.Rung >= maxRung || r.Config.Index != r.Trial:
				t.Fatalf("kept trial %d rung %d config %d", r.Trial, r.Rung, r.Config.Index)
			case r.Status != StatusOK && r.Status != StatusDiverged && r.Status != StatusFailed:
				t.Fatalf("kept status %q", r.Status)
			case r.Status == StatusOK && (r.Checkpoint != CheckpointName(r.Trial, r.Rung) || !(r.ValAcc >= 0 && r.ValAcc <= 1) || math.IsNaN(r.FinalLoss)):
				t.Fatalf("kept ok result %+v", r)
			}
		}
	})
}
