package sgd_test

import (
	"os"
	"testing"

	"github.com/nettrain/nettrain/internal/blasimpl"
	"github.com/nettrain/nettrain/internal/blasimpl/blastrap"
)

// TestMain registers the build's GEMM backends (OpenBLAS with -tags
// openblas) and installs a BLAS behind gonum's blas64 and blas32 that fails
// on any call: the loop's arithmetic is nettrain's own, in every build.
func TestMain(m *testing.M) {
	blasimpl.Use()
	blastrap.Install()
	os.Exit(m.Run())
}
