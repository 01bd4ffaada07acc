package preprocess_test

import (
	"os"
	"testing"

	"github.com/nettrain/nettrain/internal/blasimpl"
)

// TestMain installs the build's BLAS, so that -tags openblas tests OpenBLAS.
func TestMain(m *testing.M) {
	blasimpl.Use()
	os.Exit(m.Run())
}
