#!/bin/sh
# Regenerates onnx.pb.go, the Go types of ONNX's protobuf messages, from the
# official onnx.proto. The proto is not copied into this repository: it is
# the one Debian's python3-onnx installs (ONNX 1.12, IR version 8), or the
# file named by $ONNX_PROTO. protoc comes from Debian's protobuf-compiler,
# protoc-gen-go from the google.golang.org/protobuf version in go.mod.
#
#   apt-get install protobuf-compiler python3-onnx
#   go generate ./internal/onnx/onnxpb
#
# TestGeneratedMatchesProto regenerates it into a temporary directory and
# fails if the result differs from the committed file.
set -eu
out=${1:-.}
proto=${ONNX_PROTO:-/usr/lib/python3/dist-packages/onnx/onnx.proto}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
cp "$proto" "$tmp/onnx.proto"
protoc --plugin=protoc-gen-go="$tmp/protoc-gen-go" -I "$tmp" \
	--go_out="$tmp" --go_opt=paths=source_relative \
	--go_opt=Monnx.proto=github.com/nettrain/nettrain/internal/onnx/onnxpb \
	"$tmp/onnx.proto"
mv "$tmp/onnx.pb.go" "$out/onnx.pb.go"
