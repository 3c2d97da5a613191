# metalagent — see README.md.
GO        ?= go
BIN       := bin
PLUGINS   := $(BIN)/plugins
GOFLAGS_BUILD := -trimpath -ldflags "-s -w"
export CGO_ENABLED := 0

# Pinned code generators for `make generate` (protoc itself: Debian's
# protobuf-compiler 3.21.12).
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
TOOLS := $(CURDIR)/.tools

.PHONY: all build generate generate-check test unit e2e e2e-deps demo bench bench-image vet fmt clean

all: build

## build: the agent at bin/metalagent, plugin executables in bin/plugins/,
##        example plugins in bin/examples/ (not loaded by default)
build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/metalagent ./cmd/metalagent
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/metalagent-fixture ./cmd/metalagent-fixture
	@mkdir -p $(PLUGINS)
	$(GO) build $(GOFLAGS_BUILD) -o $(PLUGINS)/generic ./cmd/metalagent-generic
	$(BIN)/metalagent plugins manifest $(PLUGINS)
	@mkdir -p $(BIN)/examples
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/examples/custom-erase ./examples/custom-erase
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/examples/raid-controller ./examples/raid-controller

PROTO_DIR := plugin-sdk/proto/v1

## generate: regenerate the protocol's Go code with the pinned generators
generate: OUT ?= $(PROTO_DIR)
generate: PY_OUT ?= examples/python-hwmanager
generate:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(TOOLS):$$PATH protoc --proto_path=$(PROTO_DIR) \
		--go_out=$(OUT) --go_opt=paths=source_relative \
		--go-grpc_out=$(OUT) --go-grpc_opt=paths=source_relative \
		hwmanager.proto
	protoc --proto_path=$(PROTO_DIR) --python_out=$(PY_OUT) hwmanager.proto

## generate-check: fail if the committed generated code is not what generate makes
generate-check:
	@tmp=$$(mktemp -d) && $(MAKE) -s generate OUT=$$tmp PY_OUT=$$tmp && \
	  { cmp -s $$tmp/hwmanager_pb2.py examples/python-hwmanager/hwmanager_pb2.py || { echo "examples/python-hwmanager/hwmanager_pb2.py is stale: run make generate" >&2; rm -rf $$tmp; exit 1; }; } && \
	  for f in hwmanager.pb.go hwmanager_grpc.pb.go; do \
	    cmp -s $$tmp/$$f $(PROTO_DIR)/$$f || { echo "$(PROTO_DIR)/$$f is stale: run make generate" >&2; rm -rf $$tmp; exit 1; }; \
	  done; rm -rf $$tmp; echo "generated code up to date"

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	$(GO) vet -tags bench ./test/bench/

fmt:
	gofmt -l -w $$(git ls-files '*.go')

## unit: the fast tests (some need root for loop devices and skip without it)
unit: build
	$(GO) test -count=1 ./...

## e2e-deps: install what the rig and the examples' tests need (Debian, root)
e2e-deps:
	test/e2e/install.sh

## e2e: real Ironic drives the real agent and plugin binaries on loopback
e2e: build e2e-deps
	METALAGENT_E2E_REQUIRE=1 $(GO) test -tags e2e -count=1 -v -timeout 45m ./test/e2e/

## test: everything: unit tests, then the rig
test: vet generate-check e2e-deps unit e2e

## demo: install, build and run the whole rig end to end, printing each phase
demo: e2e

## bench: start-up, plugin-launch, inventory, disk-erase and rig figures
##        (see docs/benchmarks.md); the disk figures need root and losetup
bench: build e2e-deps
	$(GO) test -tags bench -run '^$$' -bench 'StartToAPIReady|Launch|Dispatch|IdleMemory|Inventory' -benchtime 40x ./test/bench/
	$(GO) test -tags bench -run '^$$' -bench 'EraseDevicesMetadata|Overwrite' -benchtime 5x ./test/bench/
	$(GO) test -tags bench -count=1 -run '^TestAPIThroughput$$' -v ./test/bench/ | grep FIGURE
	$(GO) test -run '^$$' -bench . -benchtime 20x ./agent/pluginhost/
	METALAGENT_E2E_REQUIRE=1 $(GO) test -tags e2e -count=1 -v -timeout 45m ./test/e2e/ | grep -E 'FIGURE|^PHASE|^[a-z0-9-]+ +(PASS|FAIL) |^total '

## bench-image: the image engine's figures (issue 7): a 2 GiB image from a
##        local nginx to loop devices by the real agent, beside curl | tee
##        and openssl dgst in the same run (root; nginx, curl, openssl from
##        e2e-deps; several minutes; in neither make bench nor make test)
bench-image: build e2e-deps
	$(GO) test -tags bench -count=1 -run '^TestImageBench$$' -v -timeout 60m ./test/bench/

clean:
	rm -rf $(BIN) $(TOOLS)
