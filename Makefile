# kelp — see README.md. `make up` starts a local elastic cluster; `make test`
# runs everything CI runs.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Where `make controlplane` puts the pinned Kubernetes and etcd binaries.
CP_VERSION := $(shell cat hack/controlplane/VERSION)
export KELP_CONTROLPLANE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kelp/controlplane/$(CP_VERSION)
TEST_TIMEOUT ?= 30m

.PHONY: all build controlplane lint test fuzz up clean bench-planner-memory bench-scale bench-join image chart screenshots

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/kelp ./cmd/kelp

controlplane:
	hack/controlplane/build.sh

# The image and the chart are built by hack/tools, a module of its own (so
# go-containerregistry and Helm stay out of kelp's go.mod). `make image`
# writes an OCI image layout for linux/amd64 and linux/arm64 to
# $(BIN)/image/kelp and prints its digest; push it with
# `cd hack/tools && go tool crane push ../../$(BIN)/image/kelp REGISTRY/kelp:TAG`.
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
image:
	cd hack/tools && $(GO) run ./image -repo ../.. -out ../../$(BIN)/image/kelp -version $(VERSION) -platforms $(IMAGE_PLATFORMS)

# Lints deploy/chart/kelp with Helm v4, packages and renders it into
# $(BIN)/chart, and re-renders deploy/controller.yaml and
# deploy/testdata/chart-all.yaml.
chart:
	cd hack/tools && $(GO) run ./chart -repo ../.. -out ../../$(BIN)/chart

lint:
	@out="$$(gofmt -l cmd internal hack test 2>/dev/null)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Unit and integration tests together: integration packages share one
# control plane per test binary and take turns (internal/testenv).
test: lint controlplane
	hack/test-deps.sh
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	cd hack/tools && $(GO) vet ./... && $(GO) test -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz

# Short, bounded fuzzing of CSR parsing and the approval policy (the seed
# corpus also runs in every plain `go test`). The bound is a count of
# inputs, not a duration: a duration that expires while the engine is
# minimising an input makes `go test -fuzz` fail with "context deadline
# exceeded". FUZZTIME=10m for a long run.
FUZZTIME ?= 3000x
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseCSR$$' -fuzztime=$(FUZZTIME) ./internal/approver
	$(GO) test -run='^$$' -fuzz='^FuzzDecide$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./internal/approver

# The planner's peak resident memory on the diverse workload (issue 15),
# in the test's own process, with no GOMEMLIMIT or GOGC change: fails over
# PLANNER_MEMORY_MIB. Not part of `make test`.
PLANNER_MEMORY_PODS ?= 10000
PLANNER_MEMORY_MIB  ?= 1024
bench-planner-memory:
	env -u GOMEMLIMIT -u GOGC KELP_PLANNER_MEMORY_PODS=$(PLANNER_MEMORY_PODS) KELP_PLANNER_MEMORY_MIB=$(PLANNER_MEMORY_MIB) \
		$(GO) test -tags plannermemory -count=1 -timeout 30m -run='^TestPlannerMemory$$' -v ./internal/autoscaler/scenario

# The scale benchmark (issue 15, docs/benchmarks.md): a local cluster grown
# by kelp's autoscaler from 0 to NODES nodes for PODS pods of 130m (30 a
# node), then back to 0; kelp's controller runs in a process of its own and
# is measured there. Not part of `make test` (build tag scalebench). The
# figures are logged and written to $(SCALE_REPORT).
NODES        ?= 1000
PODS         ?= $(shell echo $$(( 30 * $(NODES) )))
SCALE_REPORT ?= $(CURDIR)/$(BIN)/bench-scale.txt
bench-scale: build controlplane
	KELP_SCALE_NODES=$(NODES) KELP_SCALE_PODS=$(PODS) KELP_SCALE_KELP=$(CURDIR)/$(BIN)/kelp KELP_SCALE_REPORT=$(SCALE_REPORT) \
		$(GO) test -tags scalebench -count=1 -timeout 120m -run='^TestScale$$' -v ./test/e2e

# Join latency by join mode (issue 17, docs/benchmarks.md): one pool of
# `kelp up`'s local cloud scaled 0 -> JOIN_INSTANCES at once, token mode
# (BenchmarkJoin) then identity mode (BenchmarkJoinIdentity). Not part of
# `make test`.
JOIN_INSTANCES ?= 100
bench-join: controlplane
	KELP_BENCH_INSTANCES=$(JOIN_INSTANCES) $(GO) test -run XXX -bench 'BenchmarkJoin(Identity)?$$' -benchtime 1x -count=1 -timeout 30m ./test/e2e

up: build controlplane
	$(BIN)/kelp up $(UP_FLAGS)

# Updates docs/images/web-view.png from the web view of a running local
# cluster (`make up` in another shell; WEB_URL when it serves the view
# elsewhere), in headless Chromium.
WEB_URL ?= http://127.0.0.1:8081/
screenshots:
	KELP_WEB_URL=$(WEB_URL) KELP_SCREENSHOT=$(CURDIR)/docs/images/web-view.png \
		$(GO) test -tags screenshots -count=1 -run='^TestScreenshot$$' -v ./test/e2e

clean:
	rm -rf $(BIN)
