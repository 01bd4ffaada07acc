package main

import (
	"bytes"
	"encoding/json"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/sweep"
)

var smallSweep = []string{"--num-train", "150", "--num-val", "30", "--num-test", "20", "--hidden", "8,16", "--lr", "1e-5:1e-3", "--iters", "10", "--batch", "10", "--trials", "5", "--workers", "2"}

func TestSweepCommand(t *testing.T) {
	data := fixtureDir(t)
	dir := filepath.Join(t.TempDir(), "sw")
	r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", dir, "--test", "--json"}, smallSweep...)...)
	if r.code != 0 {
		t.Fatalf("sweep: exit %d\n%s", r.code, r.stderr)
	}
	var sum sweep.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if sum.Trials != 5 || sum.OK != 5 || sum.Best == nil || sum.TestAcc == nil || len(sum.Top) != 5 || sum.Model != filepath.Join(dir, "best.npz") {
		t.Errorf("summary %+v", sum)
	}
	for i := 1; i < len(sum.Top); i++ {
		if sum.Top[i].ValAcc > sum.Top[i-1].ValAcc {
			t.Errorf("top not ranked by val_acc: %v then %v", sum.Top[i-1].ValAcc, sum.Top[i].ValAcc)
		}
	}
	if strings.Count(r.stderr, "\ntrial ") != 5 {
		t.Errorf("stderr should have one line per trial:\n%s", r.stderr)
	}
	// The best model is a checkpoint eval takes, and scores what the sweep said.
	r = runCmd(t, testEnv(), "eval", "--model", filepath.Join(dir, "best.npz"), "--data", data, "--json")
	var ev trainrun.Evaluation
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || r.code != 0 || ev.Accuracy != sum.Best.ValAcc {
		t.Errorf("eval of best.npz: exit %d, accuracy %v, sweep said %v (%v)\n%s", r.code, ev.Accuracy, sum.Best.ValAcc, err, r.stderr)
	}
	// Plain output: the ranking table.
	r = runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", dir, "-q"}, smallSweep...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "rank  trial  val_acc") || !strings.Contains(r.stdout, "best: trial") {
		t.Errorf("plain output: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Each row gives the iterations once, in the iters column.
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "hidden ") && strings.Contains(line, "iters ") {
			t.Errorf("a row names the iterations twice: %q", line)
		}
	}
}

func TestSweepShardsAndReport(t *testing.T) {
	data := fixtureDir(t)
	dir := t.TempDir()
	for i, env := range []map[string]string{
		{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"},
		{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"},
		{"JOB_COMPLETION_INDEX": "2", "NETTRAIN_SHARDS": "3"},
	} {
		e := testEnv()
		e.getenv = func(k string) string { return env[k] }
		r := runCmd(t, e, append([]string{"sweep", "--data", data, "--out", dir, "-q"}, smallSweep...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "this was one shard") {
			t.Fatalf("shard %d: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
		}
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(dir, sweep.ResultsFile(i, 3))); err != nil {
			t.Errorf("shard %d wrote no results: %v", i, err)
		}
	}
	out := filepath.Join(t.TempDir(), "best.npz")
	r := runCmd(t, testEnv(), "sweep", "report", dir, "--out", out, "--json")
	var sum sweep.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 || sum.Trials != 5 || sum.OK != 5 {
		t.Fatalf("report: exit %d, %+v, %v\n%s", r.code, sum, err, r.stderr)
	}
	// The merged ranking is the one a single unsharded sweep gives.
	single := filepath.Join(t.TempDir(), "single")
	r = runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", single, "--json", "-q"}, smallSweep...)...)
	var one sweep.Summary
	json.Unmarshal([]byte(r.stdout), &one)
	for i := range one.Top {
		if one.Top[i].Trial != sum.Top[i].Trial || one.Top[i].ValAcc != sum.Top[i].ValAcc {
			t.Errorf("rank %d: merged shards give trial %d (%v), one sweep trial %d (%v)", i+1, sum.Top[i].Trial, sum.Top[i].ValAcc, one.Top[i].Trial, one.Top[i].ValAcc)
		}
	}
	if _, err := checkpoint.Load(out); err != nil {
		t.Errorf("report's best model: %v", err)
	}
}

func TestSweepBadInput(t *testing.T) {
	data := fixtureDir(t)
	dir := t.TempDir()
	base := []string{"sweep", "--data", data, "--out", filepath.Join(dir, "s"), "--num-train", "150", "--num-val", "30"}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{append(base, "--lr", "1e-2:1e-4"), 2, "--lr \"1e-2:1e-4\": the range is empty"},
		{append(base, "--hidden", "0,10"), 2, "--hidden takes 0"},
		{append(base, "--mode", "bayes"), 2, `--mode is "bayes"`},
		{append(base, "--mode", "grid"), 2, "lo:hi:n"},
		{append(base, "--shard", "3/3"), 2, "--shard gives shard"},
		{append(base, "--workers", "0"), 2, "--workers is 0"},
		{append(base, "--trials", "0"), 2, "--trials is 0"},
		{append(base, "--halving", "--halving-eta", "1"), 2, "--halving-eta is 1"},
		{append(base, "--config", filepath.Join(dir, "none.yaml")), 2, "--config"},
		{[]string{"sweep", "report", dir}, 1, "not a sweep directory"},
	} {
		r := runCmd(t, testEnv(), tc.args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != tc.code || !strings.Contains(first, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args[len(base)-1:], r.code, first, tc.code, tc.want)
		}
	}
}

// A sweep killed with SIGKILL and run again completes without repeating
// the trials that had finished.
func TestSweepKilledThenResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	dir := filepath.Join(t.TempDir(), "sw")
	args := []string{"sweep", "--data", data, "--out", dir, "--trials", "30", "--hidden", "32", "--iters", "150", "--batch", "50",
		"--num-train", "2000", "--num-val", "100", "--workers", "1"}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.jsonl")
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(results)
		if bytes.Count(b, []byte("\n")) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no 3 results in 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before, _, _ := sweep.ReadResults(results)
	// 3 of 30 trials were on disk when the kill was sent: the rest take
	// seconds, the kill a millisecond, so the test cannot pass vacuously.
	if len(before) < 3 || len(before) >= 30 {
		t.Fatalf("%d results after the kill, want 3..29", len(before))
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\ntrial "); n != 30-len(before) {
		t.Errorf("the rerun trained %d trials, want %d (30 less the %d finished)\n%s", n, 30-len(before), len(before), out)
	}
	after, _, _ := sweep.ReadResults(results)
	seen := map[int]int{}
	for _, r := range after {
		seen[r.Trial]++
	}
	if len(after) != 30 || len(seen) != 30 {
		t.Errorf("%d results for %d distinct trials after the rerun, want 30 and 30", len(after), len(seen))
	}
	t.Logf("killed after %d finished trials; the rerun trained the other %d", len(before), 30-len(before))
}

// A shared sweep directory with planted results: a line whose checkpoint
// names a secret file, and {} and null lines. The report skips each with a
// warning naming the line, and best.npz is the best real trial's
// checkpoint, never the secret.
func TestSweepReportPlantedResults(t *testing.T) {
	data := fixtureDir(t)
	dir := filepath.Join(t.TempDir(), "sw")
	if r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", dir, "-q"}, smallSweep...)...); r.code != 0 {
		t.Fatalf("sweep: exit %d\n%s", r.code, r.stderr)
	}
	secret := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(secret, []byte("root:secret\n"), 0o600)
	f, _ := os.OpenFile(filepath.Join(dir, "results.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"trial":0,"rung":0,"config":{"trial":0},"iters":10,"status":"ok","val_acc":1,"train_acc":1,"final_loss":0.1,"checkpoint":"` + secret + `"}` + "\n{}\nnull\n")
	f.Close()
	r := runCmd(t, testEnv(), "sweep", "report", dir, "--json")
	if r.code != 0 {
		t.Fatalf("report: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"results.jsonl:6: checkpoint", "results.jsonl:7: no \"trial\"", "results.jsonl:8: not a JSON object"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}
	var sum sweep.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Best == nil || sum.Best.ValAcc == 1 || sum.Trials != 5 {
		t.Errorf("summary %+v (%v)", sum, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "best.npz")); bytes.Contains(b, []byte("root:secret")) {
		t.Error("best.npz holds the secret")
	}
	if _, err := checkpoint.Load(filepath.Join(dir, "best.npz")); err != nil {
		t.Errorf("best.npz: %v", err)
	}
}

// A sweep file's options, with the option flags given on the command line
// over them one by one: the space recorded in sweep.json says which won.
func TestSweepConfigOptionsAndFlags(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "s.yaml")
	os.WriteFile(cfg, []byte("optimizer: adam\ndropout: 0.2\nflip: true\nnorm: layer\nhidden: [[8, 6]]\n"), 0o644)
	dir := filepath.Join(tmp, "sw")
	r := runCmd(t, testEnv(), "sweep", "--config", cfg, "--data", data, "--out", dir, "--num-train", "150", "--num-val", "30", "--num-test", "20",
		"--lr", "1e-3", "--iters", "5", "--batch", "10", "--trials", "1", "--dropout", "0", "--schedule", "cosine", "-q")
	if r.code != 0 {
		t.Fatalf("sweep: exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s sweep.Space
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want := trainrun.Defaults().Options
	want.Optimizer, want.Flip, want.Schedule, want.Norm = "adam", true, "cosine", "layer"
	if s.Options != want {
		t.Errorf("options %+v, want %+v (the file's, --dropout 0 and --schedule cosine over them)", s.Options, want)
	}
	if h := s.Params["hidden"]; len(h.Layers) != 1 || len(h.Layers[0]) != 2 {
		t.Errorf("hidden %+v, want the file's one choice of two layers", h)
	}
}
