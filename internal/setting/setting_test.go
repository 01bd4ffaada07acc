package setting_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nettrain/nettrain/internal/setting"
)

func TestKey(t *testing.T) {
	err := setting.Errorf("lr_decay", "{lr_decay} is %v, want a number in (0, 1]", 2.0)
	if err.Error() != "{lr_decay} is 2, want a number in (0, 1]" {
		t.Errorf("message %q", err)
	}
	for _, e := range []error{err, fmt.Errorf("config: %w", err)} {
		if k, ok := setting.Key(e); !ok || k != "lr_decay" {
			t.Errorf("Key(%v) = %q, %v", e, k, ok)
		}
	}
	if k, ok := setting.Key(errors.New("{lr} is -1")); ok {
		t.Errorf("a plain error has key %q", k)
	}
}
