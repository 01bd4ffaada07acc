//go:build unix

package fsutil

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// ProcessAlive reports whether a process with this pid exists on this
// machine (a lock or a temporary file names its writer so).
func ProcessAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// TouchNow sets the modification time of path to the current time of the
// file system that holds it (UTIME_NOW: the server's clock on NFS), not this
// machine's, so that machines with skewed clocks read one clock.
func TouchNow(path string) error {
	now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, now, 0)
}
