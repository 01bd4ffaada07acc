// Package sysmem tells how much memory a process here can still take: the
// kernel's MemAvailable, or less where a cgroup (a container, a Slurm job)
// limits the process.
package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"slices"
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
	for _, dir := range cgroupDirs("/sys/fs/cgroup", "/proc/self/cgroup") {
		// A group at its limit is left alone: its use counts page cache,
		// which the kernel reclaims before it kills anything.
		if limit, used, ok := cgroupLimit(dir); ok && limit > used {
			avail = min(avail, limit-used)
		}
	}
	return avail, true
}

// cgroupDirs returns the directories under root that may hold this
// process's memory limit: cgroup v2's (root itself, as a container sees its
// own group, and the group /proc/self/cgroup names) and cgroup v1's memory
// controller (root/memory, and the group it names there).
func cgroupDirs(root, self string) []string {
	dirs := []string{root, root + "/memory"}
	b, err := os.ReadFile(self)
	if err != nil {
		return dirs
	}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controllers:path; v2 is "0::/path"
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") || parts[2] == "/" {
			continue
		}
		switch {
		case parts[1] == "":
			dirs = append(dirs, root+parts[2])
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			dirs = append(dirs, root+"/memory"+parts[2])
		}
	}
	return dirs
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

// cgroupLimit reads the memory limit and use of the cgroup directory root:
// cgroup v2's memory.max and memory.current ("max" is no limit), or v1's
// memory.limit_in_bytes and memory.usage_in_bytes (a limit near 2^63 is
// none, and min takes care of it).
func cgroupLimit(root string) (limit, used uint64, ok bool) {
	read := func(name string) (uint64, bool) {
		b, err := os.ReadFile(root + "/" + name)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
		return v, err == nil
	}
	if limit, ok = read("memory.max"); ok {
		used, _ = read("memory.current")
		return limit, used, true
	}
	if limit, ok = read("memory.limit_in_bytes"); ok {
		used, _ = read("memory.usage_in_bytes")
		return limit, used, true
	}
	return 0, 0, false
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
