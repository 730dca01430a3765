# stagegate: build, test and package. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-builtin-rules

GO ?= go
VERSION := $(shell cat VERSION)
LDFLAGS := -s -w -X github.com/stagegate/stagegate/pkg/version.version=$(VERSION)

# make vsix settings: PLATFORMS empty = linux-amd64,linux-arm64,windows-amd64; "all" adds macOS.
PLATFORMS ?=
PUBLISHER ?=
EXTENSION_ID ?=
# Raise for Azure DevOps Server 2022 only (it accepts 104857600); the Marketplace refuses > 25 MiB.
MAX_BYTES ?=
TEST_TIMEOUT ?= 20m
FUZZTIME ?= 1m

# make bench settings (docs/performance.md). The Key Vault budget is measured by the real binary
# on a generated tree of CORPUS_SIZE on disk (in CORPUS_DIR, default the temp folder; deleted
# afterwards); CORPUS_MIX is corpusgen's -mix. BENCH selects benchmarks, BENCH_COUNT repeats them
# for benchstat, BENCH_OUT keeps the results (compare two with make benchstat OLD=a NEW=b).
CORPUS_SIZE ?= 1GB
CORPUS_MIX ?= default
CORPUS_DIR ?=
BENCH ?= .
BENCH_COUNT ?= 1
BENCH_OUT ?=
BENCH_TIMEOUT ?= 90m
BENCH_ENV = STAGEGATE_BENCH_CORPUS=$(CORPUS_SIZE) STAGEGATE_BENCH_MIX=$(CORPUS_MIX) STAGEGATE_BENCH_DIR=$(CORPUS_DIR)

# npm ci runs only when package.json or package-lock.json changed since the last install.
NODE_STAMP := node_modules/.stagegate-npm-ci

.PHONY: help build test demo vsix bench bench-corpus corpus benchstat fuzz lint icons clean

help:
	@echo "build   host binaries into bin/"
	@echo "test    lint, then go test -race ./... (installs the pinned tfx-cli first)"
	@echo "demo    run every gate against the built-in Azure DevOps simulator"
	@echo "vsix    dist/<publisher>.<id>-<version>.vsix  [PLATFORMS=all] [PUBLISHER=..] [EXTENSION_ID=..]"
	@echo "bench   every benchmark with allocations, including the Key Vault gate binary on a"
	@echo "        generated CORPUS_SIZE tree (default 1GB)  [BENCH=regex] [BENCH_COUNT=n] [BENCH_OUT=file]"
	@echo "bench-corpus  only the Key Vault gate binary on the generated tree  [CORPUS_SIZE=1GB] [CORPUS_MIX=..]"
	@echo "corpus  write a generated tree: make corpus CORPUS_DIR=/tmp/corpus [CORPUS_SIZE=1GB]"
	@echo "benchstat  compare two BENCH_OUT files: make benchstat OLD=before.txt NEW=after.txt"
	@echo "fuzz    each fuzz target for FUZZTIME (default 1m)"
	@echo "lint    gofmt, go vet, staticcheck"
	@echo "icons   redraw the task and extension icons"
	@echo "clean   remove bin/ and dist/"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint:
	@unformatted="$$(find . \( -name node_modules -o -name .git \) -prune -o -name '*.go' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The end-to-end tests package the .vsix with the real tfx-cli, hence the npm dependency.
# Fuzz targets run their seed corpus as ordinary tests here.
test: $(NODE_STAMP) lint
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

demo:
	$(GO) run ./cmd/stagegate demo

vsix: $(NODE_STAMP)
	$(GO) run ./tools/pack -platforms "$(PLATFORMS)" -publisher "$(PUBLISHER)" -extension-id "$(EXTENSION_ID)" $(if $(MAX_BYTES),-max-bytes $(MAX_BYTES))

bench:
	@echo "cores: $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo unknown)"
	$(BENCH_ENV) $(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -count=$(BENCH_COUNT) -timeout=$(BENCH_TIMEOUT) ./... $(if $(BENCH_OUT),| tee $(BENCH_OUT))

bench-corpus:
	@echo "cores: $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo unknown)"
	$(BENCH_ENV) $(GO) test -run='^$$' -bench='^BenchmarkKeyVaultCorpus$$' -benchtime=1x -count=$(BENCH_COUNT) -timeout=$(BENCH_TIMEOUT) -v ./test/bench $(if $(BENCH_OUT),| tee $(BENCH_OUT))

corpus:
	@test -n "$(CORPUS_DIR)" || { echo "set CORPUS_DIR to the folder to write"; exit 2; }
	$(GO) run ./tools/corpusgen -size $(CORPUS_SIZE) -mix $(CORPUS_MIX) -out $(CORPUS_DIR)

benchstat:
	@test -n "$(OLD)" -a -n "$(NEW)" || { echo "usage: make benchstat OLD=before.txt NEW=after.txt"; exit 2; }
	$(GO) tool benchstat $(OLD) $(NEW)

# Long fuzzing by hand: every Fuzz target of every package, FUZZTIME each.
fuzz:
	@for dir in $$($(GO) list -f '{{.Dir}}' ./...); do \
		targets="$$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$$dir"/*_test.go 2>/dev/null | sed 's/^func //' || true)"; \
		for target in $$targets; do \
			echo "== $$dir $$target for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) "$$dir"; \
		done; \
	done

icons:
	$(GO) run ./tools/icongen

clean:
	rm -rf bin dist
