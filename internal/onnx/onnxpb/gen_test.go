package onnxpb_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// The committed onnx.pb.go is what gen.sh makes from the official
// onnx.proto: regenerated into a temporary directory, it is the same file
// but for the line naming protoc's version. Skips where protoc or the
// proto (Debian's protobuf-compiler, python3-onnx) is not installed.
func TestGeneratedMatchesProto(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc is not installed (apt-get install protobuf-compiler)")
	}
	proto := os.Getenv("ONNX_PROTO")
	if proto == "" {
		proto = "/usr/lib/python3/dist-packages/onnx/onnx.proto"
	}
	if _, err := os.Stat(proto); err != nil {
		t.Skipf("onnx.proto is not installed (apt-get install python3-onnx): %v", err)
	}
	tmp := t.TempDir()
	cmd := exec.Command("./gen.sh", tmp)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "ONNX_PROTO="+proto)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(tmp, "onnx.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("onnx.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	protocLine := regexp.MustCompile(`(?m)^// \tprotoc +v.*\n`)
	if !bytes.Equal(protocLine.ReplaceAll(got, nil), protocLine.ReplaceAll(want, nil)) {
		t.Error("onnx.pb.go differs from what gen.sh makes of " + proto + ": run go generate ./internal/onnx/onnxpb and commit the result")
	}
}
