# nettrain: make targets. `make help` lists them.
GO       ?= go
# Where the CIFAR-10 binary batches are: $NETTRAIN_DATA, else ./data.
DATA     ?= $(or $(NETTRAIN_DATA),data/cifar-10-batches-bin)
BIN      := bin/nettrain
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.buildVersion=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Extra flags for `make train`, e.g. make train ARGS="--hidden 200 --lr 1e-3 --iters 4000"
ARGS     ?=

.PHONY: all build test vet fmt-check lint bench data train clean help

all: build

help:
	@echo "make build   build $(BIN)"
	@echo "make test    gofmt check, go vet, and every test (the real-data test runs when the data is found)"
	@echo "make lint    staticcheck"
	@echo "make bench   Go benchmarks, then the default run timed end to end on the real data"
	@echo "make data    fetch CIFAR-10 into $(DATA) unless it is already there"
	@echo "make train   build, fetch the data if missing, and train with the defaults (ARGS=... for more flags)"
	@echo "make clean   remove build outputs"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/nettrain

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: fmt-check vet
	$(GO) test -count=1 ./...

lint: vet
	$(GO) run $(STATICCHECK) ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@if [ -f "$(DATA)/test_batch.bin" ] && [ -x /usr/bin/time ]; then \
		echo "default run on $(DATA), end to end:"; \
		/usr/bin/time -f "wall %es  max RSS %MKB" $(BIN) train --data "$(DATA)" --out /tmp/nettrain-bench.npz --quiet; \
	else echo "no data at $(DATA) (or no /usr/bin/time): skipping the end-to-end timing (make data, or set NETTRAIN_DATA)"; fi

data:
	scripts/get_cifar10.sh "$(DATA)"

train: build data
	$(BIN) train --data "$(DATA)" $(ARGS)

clean:
	rm -rf bin
	$(GO) clean -testcache
