package sweep

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two sweeps on one directory: the second is refused, naming the first,
// while the first runs; the first finishes and leaves no lock behind.
// Shards lock their own results files and run side by side.
func TestSecondSweepRefused(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	s := testSpace()
	started, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := &Runner{Space: s, Dir: dir, Data: data, Progress: func(Result, int, int) {
		once.Do(func() { close(started); <-proceed })
	}}
	errc := make(chan error, 1)
	go func() { _, err := first.Run(context.Background()); errc <- err }()
	<-started
	_, err := (&Runner{Space: s, Dir: dir, Data: data}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "another sweep is writing") || !strings.Contains(err.Error(), "pid") {
		t.Errorf("second sweep: err %v, want a refusal naming the first", err)
	}
	// A shard of the same space in the same directory is not held up.
	if _, err := (&Runner{Space: s, Dir: dir, Data: data, Shard: 1, Shards: 2}).Run(context.Background()); err != nil {
		t.Errorf("a shard beside a running sweep: %v", err)
	}
	// --force over another space, as another shard, does not pass the
	// running sweep's lock: nothing of it is set aside or rewritten.
	spaceBefore, _ := os.ReadFile(filepath.Join(dir, "sweep.json"))
	other := testSpace()
	other.Seed = 99
	_, err = (&Runner{Space: other, Dir: dir, Data: data, Shard: 0, Shards: 2, Force: true}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not stop a running sweep") {
		t.Errorf("--force beside a running sweep: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "sweep.json")); string(after) != string(spaceBefore) {
		t.Error("--force rewrote the running sweep's sweep.json")
	}
	if _, err := os.Stat(filepath.Join(dir, "results.jsonl")); err != nil {
		t.Errorf("--force moved the running sweep's results: %v", err)
	}
	close(proceed)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "results.jsonl.lock")); err == nil {
		t.Error("the lock was left behind")
	}
	lines, _, _ := ReadResults(filepath.Join(dir, "results.jsonl"))
	if len(lines) != 6 {
		t.Errorf("%d results, want each of the 6 trials once", len(lines))
	}
}

// A lock whose holder is gone is taken over: a dead process on this host at
// once, another host's after staleAfter without a touch; a fresh lock of
// another host is respected.
func TestStaleLockTakenOver(t *testing.T) {
	data := testData(t)
	s := testSpace()
	s.Trials = 1
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	write := func(dir string, info lockInfo, age time.Duration) {
		b, _ := json.Marshal(info)
		path := filepath.Join(dir, "results.jsonl.lock")
		os.WriteFile(path, b, 0o644)
		old := time.Now().Add(-age)
		os.Chtimes(path, old, old)
	}
	for _, tc := range []struct {
		name  string
		info  lockInfo
		age   time.Duration
		taken bool
	}{
		{"dead process here", lockInfo{Host: host, PID: dead.Process.Pid}, 0, true},
		{"other host, fresh", lockInfo{Host: "node-17", PID: 1234}, 10 * time.Second, false},
		{"other host, silent", lockInfo{Host: "node-17", PID: 1234}, staleAfter + time.Minute, true},
		// A node whose clock runs 27013 hours ahead touched it with Chtimes:
		// "last alive -27013h ago" never went stale.
		{"other host, touched from the future", lockInfo{Host: "node-17", PID: 1234}, -27013 * time.Hour, true},
		{"other host, a clock a little ahead", lockInfo{Host: "node-17", PID: 1234}, -10 * time.Second, false},
		{"garbage, fresh", lockInfo{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, tc.info, tc.age)
			if tc.name == "garbage, fresh" {
				os.WriteFile(filepath.Join(dir, "results.jsonl.lock"), []byte("\x00junk"), 0o644)
			}
			_, err := (&Runner{Space: s, Dir: dir, Data: data}).Run(context.Background())
			if tc.taken && err != nil || !tc.taken && (err == nil || !strings.Contains(err.Error(), "another sweep")) {
				t.Errorf("err %v, want taken over: %v", err, tc.taken)
			}
		})
	}
}

// The holder touches its lock, so a long sweep is never taken for a dead
// one, and release removes only its own lock.
func TestLockHeartbeat(t *testing.T) {
	defer func(d time.Duration) { staleAfter = d }(staleAfter)
	staleAfter = 200 * time.Millisecond
	path := filepath.Join(t.TempDir(), "results.jsonl.lock")
	l, err := acquireLock(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * staleAfter)
	if _, err := acquireLock(path); err == nil || !strings.Contains(err.Error(), "another sweep") {
		t.Errorf("a held lock, %v after it was taken: err %v", 3*staleAfter, err)
	}
	l.release()
	if _, err := os.Stat(path); err == nil {
		t.Error("release left the lock")
	}
	// A lock taken over by someone else is not removed by the old holder.
	l, _ = acquireLock(path)
	os.WriteFile(path, []byte(`{"host":"x","pid":1,"token":"theirs"}`), 0o644)
	l.release()
	if _, err := os.Stat(path); err != nil {
		t.Error("release removed a lock that was no longer its own")
	}
}
