package sysmem

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemAvailable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meminfo")
	os.WriteFile(p, []byte("MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n"), 0o644)
	if got, ok := memAvailable(p); !ok || got != 20000000<<10 {
		t.Errorf("memAvailable = %d, %v", got, ok)
	}
	os.WriteFile(p, []byte("MemTotal: 1 kB\n"), 0o644)
	if _, ok := memAvailable(p); ok {
		t.Error("no MemAvailable line, but ok")
	}
}

func TestCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok := cgroupLimit(dir); ok {
		t.Error("no files, but ok")
	}
	os.WriteFile(filepath.Join(dir, "memory.max"), []byte("max\n"), 0o644)
	if _, _, ok := cgroupLimit(dir); ok {
		t.Error(`"max" is no limit, but ok`)
	}
	os.WriteFile(filepath.Join(dir, "memory.max"), []byte("4294967296\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "memory.current"), []byte("1073741824\n"), 0o644)
	if l, u, ok := cgroupLimit(dir); !ok || l != 4<<30 || u != 1<<30 {
		t.Errorf("cgroupLimit = %d, %d, %v", l, u, ok)
	}
}

func TestAvailableHere(t *testing.T) {
	if n, ok := Available(); ok && n < 1<<20 {
		t.Errorf("Available = %d bytes: implausible", n)
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 bytes", 999: "999 bytes", 1500: "1.5 KB", 2_400_000_000: "2.4 GB", 3_100_000_000_000: "3.1 TB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

// cgroup v1: a 1 GiB limit on the memory controller, found at its mount and
// at the group /proc/self/cgroup names.
func TestCgroupV1(t *testing.T) {
	root := t.TempDir()
	group := filepath.Join(root, "memory", "slurm", "job_7")
	os.MkdirAll(group, 0o755)
	os.WriteFile(filepath.Join(group, "memory.limit_in_bytes"), []byte("1073741824\n"), 0o644)
	os.WriteFile(filepath.Join(group, "memory.usage_in_bytes"), []byte("268435456\n"), 0o644)
	self := filepath.Join(root, "self-cgroup")
	os.WriteFile(self, []byte("12:cpu,cpuacct:/slurm/job_7\n4:memory:/slurm/job_7\n0::/\n"), 0o644)
	dirs := cgroupDirs(root, self)
	found := false
	for _, d := range dirs {
		if l, u, ok := cgroupLimit(d); ok {
			found = true
			if l != 1<<30 || u != 1<<28 {
				t.Errorf("%s: limit %d used %d", d, l, u)
			}
		}
	}
	if !found {
		t.Errorf("no limit found in %v", dirs)
	}
}
