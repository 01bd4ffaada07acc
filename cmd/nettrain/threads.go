package main

import (
	"runtime"

	"github.com/spf13/pflag"

	"github.com/nettrain/nettrain/internal/gemm"
)

// addThreadsFlag registers --threads, shared by train, eval and sweep.
func addThreadsFlag(f *pflag.FlagSet, p *int) {
	f.IntVar(p, "threads", 0, "threads for the arithmetic (0: all cores); results are the same for any number")
}

// checkThreads validates --threads.
func checkThreads(n int) error {
	if n < 0 {
		return usageErrorf("--threads is %d, want at least 1 (or 0 for all cores)", n)
	}
	return nil
}

// allThreads is --threads resolved: n, or all cores for 0.
func allThreads(n int) int {
	if n == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// useThreads lets the matrix products use n threads (0: all cores) shared
// by workers running at once, at least one each: workers trials of a
// sweep on n cores get n/workers threads each, not n each.
func useThreads(n, workers int) {
	gemm.SetThreads(max(1, allThreads(n)/max(workers, 1)))
}
