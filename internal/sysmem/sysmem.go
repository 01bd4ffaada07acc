// Package sysmem tells how much memory a process here can still take: the
// kernel's MemAvailable, or less where a cgroup (a container, a Slurm job)
// limits the process.
package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Available returns the bytes of memory this process can still allocate,
// and false where it cannot tell (not Linux, no /proc).
func Available() (uint64, bool) {
	avail, ok := memAvailable("/proc/meminfo")
	if !ok {
		return 0, false
	}
	if limit, used, ok := cgroupLimit("/sys/fs/cgroup"); ok && limit > used {
		avail = min(avail, limit-used)
	}
	return avail, true
}

// memAvailable reads MemAvailable from a meminfo file.
func memAvailable(path string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				if kb, err := strconv.ParseUint(fields[0], 10, 64); err == nil {
					return kb << 10, true
				}
			}
		}
	}
	return 0, false
}

// cgroupLimit reads cgroup v2's memory.max and memory.current under root;
// "max" is no limit.
func cgroupLimit(root string) (limit, used uint64, ok bool) {
	read := func(name string) (uint64, bool) {
		b, err := os.ReadFile(root + "/" + name)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
		return v, err == nil
	}
	limit, ok = read("memory.max")
	if !ok {
		return 0, 0, false
	}
	used, _ = read("memory.current")
	return limit, used, true
}

// Format writes n bytes as a short human size: 512 MB, 2.4 GB, 3.1 TB.
func Format(n uint64) string {
	units := []string{"bytes", "KB", "MB", "GB", "TB", "PB", "EB"}
	v, u := float64(n), 0
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	if u == 0 {
		return strconv.FormatUint(n, 10) + " bytes"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[u]
}
