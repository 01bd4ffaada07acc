package model_test

import (
	"os"
	"testing"

	"github.com/nettrain/nettrain/internal/blasimpl"
)

// TestMain registers the build's GEMM backends (OpenBLAS with -tags
// openblas), so that tests comparing backends see them.
func TestMain(m *testing.M) {
	blasimpl.Use()
	os.Exit(m.Run())
}
