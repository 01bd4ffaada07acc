package sweep

import (
	"strconv"
	"strings"

	"github.com/nettrain/nettrain/internal/setting"
)

// ParseShard returns the shard i of n a sweep process runs: from the shard
// setting ("i/n") if given, else from Slurm's job array
// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) or
// a Kubernetes Indexed Job (JOB_COMPLETION_INDEX of NETTRAIN_SHARDS) as
// getenv reads them, else 0 of 1. Its errors are *setting.Error about
// {shard}.
func ParseShard(shard string, getenv func(string) string) (i, n int, err error) {
	bad := func(format string, args ...any) (int, int, error) {
		return 0, 0, setting.Errorf("shard", format, args...)
	}
	parse := func(i, n string, what string) (int, int, error) {
		si, err1 := strconv.Atoi(strings.TrimSpace(i))
		sn, err2 := strconv.Atoi(strings.TrimSpace(n))
		if err1 != nil || err2 != nil || sn < 1 || si < 0 || si >= sn {
			return bad("%s gives shard %q of %q; want i/n with 0 <= i < n", what, i, n)
		}
		return si, sn, nil
	}
	if shard != "" {
		i, n, ok := strings.Cut(shard, "/")
		if !ok {
			return bad("{shard} %q: want i/n, such as 0/4", shard)
		}
		return parse(i, n, "{shard}")
	}
	if id := getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		n := getenv("SLURM_ARRAY_TASK_COUNT")
		lo := 0
		if m := getenv("SLURM_ARRAY_TASK_MIN"); m != "" {
			var err error
			if lo, err = strconv.Atoi(m); err != nil {
				return bad("SLURM_ARRAY_TASK_MIN %q is not a number", m)
			}
		}
		i, err := strconv.Atoi(id)
		if err != nil {
			return bad("SLURM_ARRAY_TASK_ID %q is not a number", id)
		}
		return parse(strconv.Itoa(i-lo), n, "the Slurm job array (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT)")
	}
	if id := getenv("JOB_COMPLETION_INDEX"); id != "" {
		n := getenv("NETTRAIN_SHARDS")
		if n == "" {
			return bad("JOB_COMPLETION_INDEX is set but NETTRAIN_SHARDS is not: set it to the Job's completions")
		}
		return parse(id, n, "the Indexed Job (JOB_COMPLETION_INDEX, NETTRAIN_SHARDS)")
	}
	return 0, 1, nil
}
