package sweep

import "testing"

func TestParseShard(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		flag string
		env  map[string]string
		i, n int
		bad  bool
	}{
		{"", nil, 0, 1, false},
		{"2/5", nil, 2, 5, false},
		{"5/5", nil, 0, 0, true},
		{"-1/5", nil, 0, 0, true},
		{"x", nil, 0, 0, true},
		{"", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}, 3, 4, false},
		{"", map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"}, 3, 4, false},
		{"", map[string]string{"JOB_COMPLETION_INDEX": "1", "NETTRAIN_SHARDS": "2"}, 1, 2, false},
		{"", map[string]string{"JOB_COMPLETION_INDEX": "1"}, 0, 0, true},
		{"1/2", map[string]string{"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, 1, 2, false},                            // the flag wins
		{"", map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "one"}, 0, 0, true}, // was 0
	} {
		getenv := none
		if tc.env != nil {
			getenv = func(k string) string { return tc.env[k] }
		}
		i, n, err := ParseShard(tc.flag, getenv)
		if (err != nil) != tc.bad || !tc.bad && (i != tc.i || n != tc.n) {
			t.Errorf("ParseShard(%q, %v) = %d, %d, %v", tc.flag, tc.env, i, n, err)
		}
	}
}
