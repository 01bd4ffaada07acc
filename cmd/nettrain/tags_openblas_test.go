//go:build openblas

package main

// testTags are the build tags of this test binary, for the nettrain binary
// the process tests build.
const testTags = "openblas"
