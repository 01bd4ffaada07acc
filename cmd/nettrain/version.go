package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/blasimpl"
	"github.com/nettrain/nettrain/internal/gemm"
)

// buildVersion is set by the Makefile: -ldflags "-X main.buildVersion=...".
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of nettrain, its matrix kernel and threads",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			kernel := fmt.Sprintf("%s kernel, %d threads", gemm.Kernel(), gemm.Threads())
			if !slices.Contains(gemm.Kernels(), gemm.Kernel()) {
				kernel = gemm.Kernel() + " backend, 1 thread"
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "nettrain %s (%s, %s/%s)\nGEMM: %s (this CPU runs: %s; choose with %s)\nBLAS: %s\n",
				version(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
				kernel, strings.Join(gemm.Kernels(), ", "), gemm.EnvKernel, blasimpl.Name())
			return err
		},
	}
}
