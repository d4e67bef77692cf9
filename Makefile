# xraylab: `make run` starts the server with the demo experiment,
# `make test` runs every test. Both install what they need on Debian 12.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO    ?= go
BIN   := bin/xraylab
ADDR  ?= 127.0.0.1:8080
VAR   ?= var

.PHONY: deps build run test unit e2e screenshots bench clean

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) .

run: build
	./$(BIN) serve --addr $(ADDR) --var $(VAR) --submit experiments.yaml --experiment demo

test: unit e2e

unit: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# The dashboard in a real browser (Debian's chromium driven by playwright-core).
e2e: deps
	@scripts/deps.sh chromium
	cd e2e && npm ci --no-audit --no-fund && npm test

screenshots: deps
	@scripts/deps.sh chromium
	cd e2e && npm ci --no-audit --no-fund && npm run screenshots

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin
