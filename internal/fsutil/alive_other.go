//go:build !unix

package fsutil

import (
	"os"
	"time"
)

// ProcessAlive cannot tell here: it says yes, and age decides.
func ProcessAlive(pid int) bool { return true }

// TouchNow sets the modification time of path to this machine's time.
func TouchNow(path string) error {
	now := time.Now()
	return os.Chtimes(path, now, now)
}
