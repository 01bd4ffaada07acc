// Package deploy holds the cluster manifests and their tests.
package deploy

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Indexed Job is well formed and its shard count agrees with itself.
func TestIndexedJob(t *testing.T) {
	b, err := os.ReadFile("k8s/sweep-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
						Env  []struct{ Name, Value string }
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" || len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("not an Indexed Job: %+v", job)
	}
	c := job.Spec.Template.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "sweep" || !slicesContainsPrefix(c.Args, "--out=") {
		t.Errorf("container args %v: want nettrain sweep with --out", c.Args)
	}
	shards := 0
	for _, e := range c.Env {
		if e.Name == "NETTRAIN_SHARDS" {
			shards, _ = strconv.Atoi(e.Value)
		}
	}
	if shards != job.Spec.Completions {
		t.Errorf("NETTRAIN_SHARDS %d, completions %d: they must agree", shards, job.Spec.Completions)
	}
}

func slicesContainsPrefix(s []string, p string) bool {
	for _, v := range s {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// The batch script parses, and declares an array.
func TestSbatch(t *testing.T) {
	b, err := os.ReadFile("slurm/sweep.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "#SBATCH --array=") {
		t.Error("sweep.sbatch declares no job array")
	}
	if out, err := exec.Command("bash", "-n", "slurm/sweep.sbatch").CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}
