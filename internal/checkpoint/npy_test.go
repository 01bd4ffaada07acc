package checkpoint_test

import (
	"io"

	"codeberg.org/sbinet/npyio"
)

func writeNpy(w io.Writer, v any) error { return npyio.Write(w, v) }
