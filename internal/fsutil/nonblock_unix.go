//go:build unix

package fsutil

import "syscall"

// openNonblock keeps opening a FIFO from blocking until a writer comes.
const openNonblock = syscall.O_NONBLOCK

// openNoFollow makes opening a symlink fail.
const openNoFollow = syscall.O_NOFOLLOW
