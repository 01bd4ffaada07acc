//go:build !unix

package fsutil

const openNonblock = 0

const openNoFollow = 0
