package gemm

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// dotAgrees holds on this CPU if it has the instruction (so GemmBF16 uses
// it), and fails on arithmetic that differs (checked: the pair's order
// swapped in its reference makes it false).
func TestDotAgrees(t *testing.T) {
	if !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512BF16 {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	if !dotAgrees() {
		t.Error("VDPBF16PS disagrees with dot: GemmBF16 runs the float32 kernels instead")
	}
	if KernelsBF16()[0] != "avx512bf16" {
		t.Errorf("kernels %v: want avx512bf16 first", KernelsBF16())
	}
}
