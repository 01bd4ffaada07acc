package sweep

import (
	"encoding/json"
	"fmt"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

// Summary is a sweep's outcome, as report --json prints it.
type Summary struct {
	Trials  int      `json:"trials"`
	OK      int      `json:"ok"`
	Failed  int      `json:"failed"`
	Best    *Result  `json:"best,omitempty"`
	Model   string   `json:"model,omitempty"`
	TestAcc *float64 `json:"test_acc,omitempty"`
	Top     []Result `json:"top"`
}

// Summarize ranks results, copies the best trial's checkpoint to out (if
// not empty; SaveBest, warning through warn about trials passed over), and
// scores it on test once if test is not nil, in the precision it trained
// in. A best model whose scores are not finite is an error.
func Summarize(results []Result, out string, test *cifar.Set, warn func(string)) (Summary, error) {
	ranked := Latest(results)
	sum := Summary{Top: ranked[:min(10, len(ranked))]}
	trials := map[[2]any]bool{}
	for _, res := range results {
		trials[[2]any{res.Dir, res.Trial}] = true
	}
	sum.Trials, sum.OK = len(trials), len(ranked)
	sum.Failed = sum.Trials - sum.OK
	if len(ranked) == 0 {
		return sum, nil
	}
	// The best trial whose checkpoint is a checkpoint: a shared sweep
	// directory may hold anything.
	b, ck, err := SaveBest(out, ranked, warn)
	if err != nil {
		return sum, fmt.Errorf("saving the best model: %w", err)
	}
	sum.Best = &b
	sum.Model = out
	if test != nil {
		var meta trainrun.Meta
		json.Unmarshal(ck.Meta, &meta) // absent or foreign metadata: float64 scoring
		pred := trainrun.Predict(ck, *test, meta.Config.Precision, meta.Config.TTA && ck.Conv != nil)
		if err := model.CheckFinite(pred); err != nil {
			return sum, fmt.Errorf("the best trial's model: %w", err)
		}
		acc := model.Accuracy(pred, test.Y)
		sum.TestAcc = &acc
	}
	return sum, nil
}
