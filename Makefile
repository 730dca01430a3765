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

# npm ci runs only when package.json or package-lock.json changed since the last install.
NODE_STAMP := node_modules/.stagegate-npm-ci

.PHONY: help build test demo vsix bench fuzz lint icons clean

help:
	@echo "build   host binaries into bin/"
	@echo "test    lint, then go test -race ./... (installs the pinned tfx-cli first)"
	@echo "demo    run every gate against the built-in Azure DevOps simulator"
	@echo "vsix    dist/<publisher>.<id>-<version>.vsix  [PLATFORMS=all] [PUBLISHER=..] [EXTENSION_ID=..]"
	@echo "bench   every benchmark, with allocations"
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
	$(GO) test -run='^$$' -bench=. -benchmem ./...

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
