# xraylab: `make run` starts the server with the demo experiment,
# `make test` runs every test. Both install what they need on Debian 12.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO    ?= go
BIN   := bin/xraylab
ADDR  ?= 127.0.0.1:8080
VAR   ?= var

.PHONY: deps build run test lint unit race e2e screenshots bench bench-preprocess soak fuzz load clean

deps:
	@scripts/deps.sh

# The server is built against OpenBLAS (about 4x faster training than the
# pure-Go BLAS here); BLAS=gonum builds without it.
BLAS ?= openblas
ifeq ($(BLAS),openblas)
BLAS_TAGS := -tags openblas
BLAS_ENV  := CGO_LDFLAGS=-lopenblas
BLAS_PKG  := libopenblas-dev
endif

build: deps
	@scripts/deps.sh $(BLAS_PKG)
	$(BLAS_ENV) $(GO) build $(BLAS_TAGS) -o $(BIN) .

run: build
	./$(BIN) serve --addr $(ADDR) --var $(VAR) --submit experiments.yaml --experiment demo

test: lint unit race e2e

# gofmt (listing the files it would change), go vet and staticcheck, at a
# pinned version so every machine reports the same findings; it is
# installed into GOPATH/bin when missing or at another version.
STATICCHECK_VERSION := 0.8.2
lint: deps
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w on them):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@sc="$$($(GO) env GOPATH)/bin/staticcheck"; \
	"$$sc" -version 2>/dev/null | grep -qF "($(STATICCHECK_VERSION))" || { \
		echo "lint: installing staticcheck v$(STATICCHECK_VERSION)"; \
		GOBIN="$$(dirname "$$sc")" $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION) || exit 1; }; \
	echo "staticcheck ./..."; "$$sc" ./...

# The crash harness (crash_test.go) kills the real server 20 times here.
unit: deps
	XRAYLAB_KILLS=20 $(GO) test -count=1 -timeout 30m ./...

# The race detector (it needs cgo) on the packages with concurrency: the
# server and its client, the registry, and in experiments the tests that
# drive the runner's worker pool, the manager's queue and the Slurm
# executor with its remote worker.
RACE_EXPERIMENTS := ^Test(RunsEndToEnd|FailingRun|Cancel|Restart|SubmitChecks|Slurm|Worker)
race: deps
	$(GO) test -race -count=1 -timeout 20m ./server/... ./registry/...
	$(GO) test -race -count=1 -timeout 20m -run '$(RACE_EXPERIMENTS)' ./experiments/...

# The dashboard in a real browser (Debian's chromium driven by playwright-core).
e2e: deps
	@scripts/deps.sh chromium
	cd e2e && npm ci --no-audit --no-fund && npm test

screenshots: deps
	@scripts/deps.sh chromium
	cd e2e && npm ci --no-audit --no-fund && npm run screenshots

# `make bench`: every model's train step and scoring, xraylab vs PyTorch
# references of the same networks (bench/torch_models.py, Debian's
# python3-torch), at 64 and 128 px (the CAE also 256), each configuration in
# processes of its own, interleaved; prints the table and writes
# bench/results.md and bench/results.json (about 15 minutes on 2 cores).
# BLAS=gonum measures the pure-Go build; BENCH_ARGS passes flags, e.g.
# BENCH_ARGS='-models cae,vae -sizes 64 -iters 3' (go run ./bench -h lists them).
bench: deps
	@scripts/deps.sh $(BLAS_PKG) python3-torch
	$(BLAS_ENV) $(GO) run $(BLAS_TAGS) ./bench $(BENCH_ARGS)

# `make bench-preprocess`: offline preprocessing (decode, carrier crop,
# hand mask, hand boxes), xraylab with W workers against Python cv2
# (Debian's python3-opencv, bench/preprocess_cv2.py) with a pool of W
# processes, W = the cores here (BENCH_WORKERS overrides), interleaved
# over BENCH_ROUNDS rounds; prints each round and the min/max ratio.
BENCH_ROUNDS ?= 5
BENCH_WORKERS ?=
bench-preprocess: deps
	@scripts/deps.sh python3-opencv
	XRAYLAB_BENCH_ROUNDS=$(BENCH_ROUNDS) XRAYLAB_BENCH_WORKERS=$(BENCH_WORKERS) \
		$(GO) test -count=1 -timeout 30m -run '^$$' -bench '^BenchmarkOfflineVsCV2$$' -benchtime 1x -v ./preprocess/

# Longer runs of the crash harness, the fuzzers and the load test.
KILLS ?= 60
FUZZTIME ?= 60s
soak: deps
	XRAYLAB_KILLS=$(KILLS) $(GO) test -count=1 -timeout 60m -run '^TestCrashSafety$$' -v .

fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME) ./experiments/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadMURACSV$$' -fuzztime $(FUZZTIME) ./preprocess/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadMURAPaths$$' -fuzztime $(FUZZTIME) ./preprocess/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeImage$$' -fuzztime $(FUZZTIME) ./preprocess/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadModel$$' -fuzztime $(FUZZTIME) ./nets/

load: deps
	$(GO) test -count=1 -timeout 20m -run '^$$' -bench '^BenchmarkLoad$$' -benchtime 1x .

clean:
	rm -rf bin
