package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nettrain/nettrain/internal/fsutil"
)

// A results file is written by one sweep at a time: two sweeps on one
// directory would run every trial twice and, with halving, delete each
// other's checkpoints. The lock is a file beside it, created with O_EXCL
// (atomic on local disks and on NFS since v3, where sweeps on a cluster
// live; flock is not reliable there), holding who took it. Its holder
// touches it every staleAfter/4; a lock whose process is gone (same host)
// or whose touches stopped staleAfter ago (a node that died) is taken over.
// Shards write their own results files, so they lock separately and run
// side by side.

// staleAfter is how long a lock may go untouched before it is taken over.
var staleAfter = 2 * time.Minute

// lockInfo is what a lock file holds.
type lockInfo struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Token   string    `json:"token"` // tells this taking from a later one
}

// dirLock is a held lock.
type dirLock struct {
	path  string
	token string
	stop  chan struct{}
	done  chan struct{}
}

// acquireLock takes the lock at path or says who holds it.
func acquireLock(path string) (*dirLock, error) {
	host, _ := os.Hostname()
	me := lockInfo{Host: host, PID: os.Getpid(), Started: time.Now().UTC(),
		Token: strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())}
	b, _ := json.Marshal(me)
	for try := 0; ; try++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.Write(append(b, '\n'))
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, werr
			}
			l := &dirLock{path: path, token: me.Token, stop: make(chan struct{}), done: make(chan struct{})}
			go l.heartbeat()
			return l, nil
		}
		if !errors.Is(err, os.ErrExist) || try > 0 {
			return nil, fmt.Errorf("cannot lock %s: %w", filepath.Base(path), err)
		}
		holder, age, stale := inspectLock(path, host)
		if !stale {
			return nil, fmt.Errorf("another sweep is writing %s (%s, last alive %s ago); wait for it to finish, or give this one another {out} or {shard} (a lock untouched for %s is taken over)",
				filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path[:len(path)-len(".lock")])), holder, age.Round(time.Second), staleAfter)
		}
		// Move the stale lock aside under a name of our own, so that of two
		// sweeps taking it over at once only one removes it, then retry.
		aside := fmt.Sprintf("%s.stale-%s", path, me.Token)
		if err := os.Rename(path, aside); err == nil {
			os.Remove(aside)
		}
	}
}

// inspectLock describes the holder of the lock at path and whether the
// lock is stale: its process gone (same host) or not touched for
// staleAfter. An unreadable lock file counts as stale once it is old.
func inspectLock(path, host string) (holder string, age time.Duration, stale bool) {
	st, err := os.Lstat(path)
	if err != nil {
		return "gone", 0, true
	}
	// The age by the file system's clock, which the holder's touches use
	// too (fsutil.TouchNow): machines whose clocks disagree agree on it. A
	// touch from the future by more than staleAfter (a lock written by a
	// skewed clock's Chtimes) is as untrustworthy as an old one.
	age = fsutil.Now(filepath.Dir(path)).Sub(st.ModTime())
	untouched := age > staleAfter || age < -staleAfter
	info, err := readLock(path)
	if err != nil {
		return "an unreadable lock file", age, untouched
	}
	holder = fmt.Sprintf("pid %d on %s since %s", info.PID, info.Host, info.Started.Format(time.RFC3339))
	if info.Host == host && info.PID > 0 && !fsutil.ProcessAlive(info.PID) {
		return holder, age, true
	}
	return holder, age, untouched
}

// heartbeat touches the lock until release.
func (l *dirLock) heartbeat() {
	defer close(l.done)
	t := time.NewTicker(staleAfter / 4)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			fsutil.TouchNow(l.path)
		}
	}
}

// release stops the heartbeat and removes the lock if it is still this
// one's (not taken over after a long stall).
func (l *dirLock) release() {
	close(l.stop)
	<-l.done
	if info, err := readLock(l.path); err == nil && info.Token == l.token {
		os.Remove(l.path)
	}
}

// readLock reads what the lock file at path says (not through a symlink:
// the directory may be shared).
func readLock(path string) (info lockInfo, err error) {
	f, err := fsutil.OpenRegularNoFollow(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}
