# nettrain: make targets. `make help` lists them.
GO       ?= go
# Where the CIFAR-10 binary batches are: $NETTRAIN_DATA, else ./data.
DATA     ?= $(or $(NETTRAIN_DATA),data/cifar-10-batches-bin)
BIN      := bin/nettrain
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.buildVersion=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The default build is Go and Go assembly only (CGO_ENABLED=0): our own
# GEMM kernels, the fast path. TAGS=openblas also links OpenBLAS (apt-get
# install libopenblas-dev) as a backend to compare against, selected at run
# time with NETTRAIN_GEMM=openblas.
TAGS     ?=
HAVE_OPENBLAS := $(shell ls /usr/lib/*/libopenblas.so /usr/lib/libopenblas.so /usr/local/lib/libopenblas.so 2>/dev/null | head -1)
# The OpenBLAS kernel make bench also forces (its own CPU detection may pick
# a slow one): SkylakeX on AVX-512 CPUs, Haswell on AVX2 ones.
OPENBLAS_BEST ?= $(if $(shell grep -m1 -o avx512f /proc/cpuinfo 2>/dev/null),SkylakeX,Haswell)
DATA_OK  := $(wildcard $(DATA)/test_batch.bin)
# Extra flags for `make train`, e.g. make train ARGS="--hidden 200 --lr 1e-3 --iters 4000"
ARGS     ?=

.PHONY: all build test vet fmt-check lint bench data train clean help slurm-test fuzz onnx-deps

all: build

help:
	@echo "make build   build $(BIN)"
	@echo "make test    gofmt check, go vet, and every test (the real-data test runs when the data is found)"
	@echo "make lint    staticcheck"
	@echo "make bench   our GEMM kernels against gonum and OpenBLAS, training steps, numpy, and end-to-end runs on the real data"
	@echo "make data    fetch CIFAR-10 into $(DATA) unless it is already there"
	@echo "make train   build, fetch the data if missing, train with the defaults and score on test (ARGS=... for more flags)"
	@echo "make clean   remove build outputs"
	@echo "make fuzz    run each fuzz target for FUZZTIME (default 5m)"
	@echo "make onnx-deps  install onnxruntime-node (npm) into tools/onnxruntime, for the ONNX export tests and examples"
	@echo "make slurm-test  start a one-node Slurm cluster (root; installs slurm-wlm) and run a sweep job array on it"

build:
	CGO_ENABLED=$(if $(TAGS),1,0) $(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/nettrain

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags openblas ./...

# Every test on the default build; with OpenBLAS installed, the suite again
# (-short: no real-data run) on the openblas build.
test: fmt-check vet
	$(GO) test -count=1 -timeout 25m ./...
	@if [ -n "$(HAVE_OPENBLAS)" ]; then echo "again on the openblas build:"; $(GO) test -count=1 -timeout 25m -short -tags openblas ./...; fi

# onnxruntime-node for the tests that run exported models (they skip without
# it). --ignore-scripts: its install script fetches GPU parts we do not use;
# the CPU runtime ships inside the package.
onnx-deps:
	cd tools/onnxruntime && npm ci --ignore-scripts --no-audit --no-fund

lint: vet
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags openblas ./...

# One run, one machine: the CPU, our kernels against gonum's pure Go and
# OpenBLAS (its own kernel choice and OPENBLAS_BEST) per product shape,
# whole training steps on each, scoring, numpy's cs231n loop, and the
# default run and a ZCA fit end to end on the real data.
# Benchmarks interleave the implementations shape by shape (ours, gonum's,
# OpenBLAS's with OPENBLAS_BEST forced) and run 3 times: the machines are
# shared, and only numbers from the same moments compare.
BENCH_TAGS = $(if $(HAVE_OPENBLAS),-tags openblas,)
BENCH_ENV  = $(if $(HAVE_OPENBLAS),OPENBLAS_CORETYPE=$(OPENBLAS_BEST),)
bench: build
	@echo "== CPU: $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$(nproc) cores"
	@$(BIN) version | sed -n 2p
	@[ -n "$(HAVE_OPENBLAS)" ] || echo "== no OpenBLAS (apt-get install libopenblas-dev to compare with it)"
	@echo "== GEMM per shape, float32, GFLOPS: our kernels, gonum's pure Go$(if $(HAVE_OPENBLAS),$(comma) OpenBLAS with OPENBLAS_CORETYPE=$(OPENBLAS_BEST),):"
	$(BENCH_ENV) $(GO) test $(BENCH_TAGS) -run '^$$' -bench 'Sgemm|MicroKernel' -benchtime 0.5s -count 3 ./internal/gemm
	@if [ -n "$(HAVE_OPENBLAS)" ]; then \
		echo "== OpenBLAS with the kernel it picks itself:"; \
		$(GO) test -tags openblas -run '^$$' -bench 'Sgemm/.*/openblas' -benchtime 0.5s ./internal/gemm | grep -e GFLOPS; \
	fi
	@echo "== training steps (ours on 1 and 2 threads, then the backends), and scoring:"
	$(BENCH_ENV) $(GO) test $(BENCH_TAGS) -run '^$$' -bench 'Step' -benchtime 1s ./internal/sgd
	$(GO) test -run '^$$' -bench 'PredictSet' -benchtime 3x ./internal/model
	@echo "== the airbench net at batch 1024: GFLOPS of each convolution's products (forward, weight and input gradients) beside our GEMM on a 2048 square, its elementwise layers (GELU, batch norm, max pooling, million entries a second), and the whole step:"
	$(GO) test -run '^$$' -bench 'ConvAirbench|Elementwise|StepAirbench1024' -benchtime 3x ./internal/layers
	@echo "== its convolutions' products as the layers run them (a block of examples, one thread), float32 beside bfloat16 (--matmul bf16), GFLOPS:"
	$(GO) test -run '^$$' -bench 'BF16Airbench' -benchtime 10x ./internal/gemm
	@if [ -n "$(DATA_OK)" ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then \
		echo "== numpy (cs231n's loop, float64):"; \
		/usr/bin/python3 scripts/bench_numpy.py "$(DATA)"; \
		/usr/bin/python3 scripts/bench_numpy.py "$(DATA)" --default-run; \
	fi
	@if [ -n "$(DATA_OK)" ] && [ -x /usr/bin/time ]; then \
		echo "== nettrain default run on $(DATA), end to end:"; \
		/usr/bin/time -f "wall %es  max RSS %MKB" $(BIN) train --data "$(DATA)" --out /tmp/nettrain-bench.npz --quiet; \
		echo "== nettrain train --hidden 500 --iters 500, end to end:"; \
		/usr/bin/time -f "wall %es  max RSS %MKB" $(BIN) train --data "$(DATA)" --hidden 500 --iters 500 --out /tmp/nettrain-bench.npz --quiet; \
		echo "== ZCA fit on the 49000 training images (and 1 iteration), end to end:"; \
		/usr/bin/time -f "wall %es  max RSS %MKB" $(BIN) train --data "$(DATA)" --preprocess zca --iters 1 --out /tmp/nettrain-bench.npz 2>&1 | grep -e fitted -e wall; \
	else echo "== no data at $(DATA) (or no /usr/bin/time): skipping the end-to-end timings (make data, or set NETTRAIN_DATA)"; fi

comma := ,

data: build
	NETTRAIN=$(BIN) scripts/get_cifar10.sh "$(DATA)"

train: build data
	$(BIN) train --data "$(DATA)" --test $(ARGS)

FUZZTIME ?= 5m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadBatch$$' -fuzztime $(FUZZTIME) ./internal/cifar
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/checkpoint
	$(GO) test -run '^$$' -fuzz '^FuzzGemm$$' -fuzztime $(FUZZTIME) ./internal/gemm
	$(GO) test -run '^$$' -fuzz '^FuzzPickle$$' -fuzztime $(FUZZTIME) ./internal/cifar
	$(GO) test -run '^$$' -fuzz '^FuzzTarGz$$' -fuzztime $(FUZZTIME) ./internal/cifar
	$(GO) test -run '^$$' -fuzz '^FuzzReadEntries$$' -fuzztime $(FUZZTIME) ./internal/checkpoint
	$(GO) test -run '^$$' -fuzz '^FuzzReadResults$$' -fuzztime $(FUZZTIME) ./internal/sweep

slurm-test:
	NETTRAIN_DATA="$(DATA)" scripts/slurm_test.sh

clean:
	rm -rf bin
	$(GO) clean -testcache
