package run_test

import (
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/setting"
)

func toyProblem() run.GradProblem {
	return run.GradProblem{Hidden: run.Hidden{10}, NumInputs: 5, InputSize: 4, Classes: 3, Reg: 0.05, Std: 0.1, Step: model.GradStep, Tol: 1e-7}
}

// The toy problem passes at cs231n's bar; a tolerance below round-off
// fails, naming the first parameter; problems out of range are refused by
// the setting's key before any work.
func TestGradCheckProblem(t *testing.T) {
	r, err := run.GradCheck(toyProblem(), nil)
	if err != nil || r.Failed != nil {
		t.Fatalf("toy problem: %v, %v", err, r.Failed)
	}
	if len(r.Params) != 4 || r.N != 5 || r.D != 4 || r.C != 3 {
		t.Errorf("report %+v, want W1 b1 W2 b2 of N=5 D=4 C=3", r)
	}
	p := toyProblem()
	p.Tol = 1e-30
	if r, err := run.GradCheck(p, nil); err != nil || r.Failed == nil || !strings.HasPrefix(r.Failed.Error(), "W1 max relative error") {
		t.Errorf("tol 1e-30: %v, failed %v", err, r.Failed)
	}
	for key, bad := range map[string]func(*run.GradProblem){
		"num_inputs": func(p *run.GradProblem) { p.NumInputs = 2_000_000_000 },
		"input_size": func(p *run.GradProblem) { p.InputSize = 2_000_000_000 },
		"classes":    func(p *run.GradProblem) { p.Classes = 1 },
		"hidden":     func(p *run.GradProblem) { p.Hidden = run.Hidden{100000} },
		"step":       func(p *run.GradProblem) { p.Step = 0 },
		"tol":        func(p *run.GradProblem) { p.Tol = -1 },
		"reg":        func(p *run.GradProblem) { p.Reg = -1 },
		"dropout":    func(p *run.GradProblem) { p.Dropout = 1 },
	} {
		p := toyProblem()
		bad(&p)
		_, err := run.GradCheck(p, nil)
		if k, ok := setting.Key(err); !ok || k != key {
			t.Errorf("%s: error %v, want one about {%s}", key, err, key)
		}
	}
}
