# nettrain: make targets. `make help` lists them.
GO       ?= go
# Where the CIFAR-10 binary batches are: $NETTRAIN_DATA, else ./data.
DATA     ?= $(or $(NETTRAIN_DATA),data/cifar-10-batches-bin)
BIN      := bin/nettrain
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.buildVersion=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# OpenBLAS behind gonum when libopenblas is installed (apt-get install
# libopenblas-dev), else gonum's pure-Go BLAS. TAGS= forces pure Go.
HAVE_OPENBLAS := $(shell ls /usr/lib/*/libopenblas.so /usr/lib/libopenblas.so /usr/local/lib/libopenblas.so 2>/dev/null | head -1)
TAGS     ?= $(if $(HAVE_OPENBLAS),openblas,)
# Extra flags for `make train`, e.g. make train ARGS="--hidden 200 --lr 1e-3 --iters 4000"
ARGS     ?=

.PHONY: all build test vet fmt-check lint bench data train clean help slurm-test fuzz

all: build

help:
	@echo "make build   build $(BIN)"
	@echo "make test    gofmt check, go vet, and every test (the real-data test runs when the data is found)"
	@echo "make lint    staticcheck"
	@echo "make bench   Go benchmarks, then the default run timed end to end on the real data"
	@echo "make data    fetch CIFAR-10 into $(DATA) unless it is already there"
	@echo "make train   build, fetch the data if missing, and train with the defaults (ARGS=... for more flags)"
	@echo "make clean   remove build outputs"
	@echo "make fuzz    run each fuzz target for FUZZTIME (default 5m)"
	@echo "make slurm-test  start a one-node Slurm cluster (root; installs slurm-wlm) and run a sweep job array on it"

build:
	@[ -n "$(TAGS)" ] || echo "note: OpenBLAS not found (apt-get install libopenblas-dev for a faster nettrain); building with gonum's pure-Go BLAS"
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/nettrain

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags openblas ./...

# With OpenBLAS, the whole suite runs on it and again (-short: no real-data
# run) on the pure-Go BLAS, so both builds stay correct.
test: fmt-check vet
	$(GO) test -count=1 -tags "$(TAGS)" ./...
	@if [ -n "$(TAGS)" ]; then echo "again with gonum's pure-Go BLAS:"; $(GO) test -count=1 -short ./...; fi

lint: vet
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags openblas ./...

# Benchmarks of this build, the pure-Go baseline in the same run, numpy's
# cs231n loop when numpy is installed, and the default run end to end.
# OpenBLAS picks its kernel from the CPU unless OPENBLAS_CORETYPE is set;
# the kernel in use is printed first.
bench: build
	@$(BIN) version | sed -n 2p
	$(GO) test -tags "$(TAGS)" -run '^$$' -bench . -benchmem -benchtime 2s ./internal/...
	@echo "baseline, gonum pure-Go BLAS:"
	$(GO) test -run '^$$' -bench 'Step' -benchmem -benchtime 20x ./internal/sgd
	@if [ -f "$(DATA)/test_batch.bin" ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then \
		echo "baseline, numpy (cs231n's loop):"; /usr/bin/python3 scripts/bench_numpy.py "$(DATA)"; fi
	@if [ -f "$(DATA)/test_batch.bin" ] && [ -x /usr/bin/time ]; then \
		echo "default run on $(DATA), end to end:"; \
		/usr/bin/time -f "wall %es  max RSS %MKB" $(BIN) train --data "$(DATA)" --out /tmp/nettrain-bench.npz --quiet; \
	else echo "no data at $(DATA) (or no /usr/bin/time): skipping the end-to-end timing (make data, or set NETTRAIN_DATA)"; fi

data:
	scripts/get_cifar10.sh "$(DATA)"

train: build data
	$(BIN) train --data "$(DATA)" $(ARGS)

FUZZTIME ?= 5m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadBatch$$' -fuzztime $(FUZZTIME) ./internal/cifar
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/model

slurm-test:
	NETTRAIN_DATA="$(DATA)" scripts/slurm_test.sh

clean:
	rm -rf bin
	$(GO) clean -testcache
