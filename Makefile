# newsflow — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
BIN       := bin
PKGS      := ./...

.PHONY: run test test-faults check fmt tidy vet staticcheck build bench bench-quick deploy-check clean

## run: build, start a worker on the embedded defaults, publish a sample, print the top stories, stop.
run: build
	bash scripts/demo.sh

## test: go vet and the whole test suite with the race detector (needs the loopback NATS, Redis, Postgres).
## The slowest package takes a few minutes on a loaded machine; a 10-minute timeout turns a hang into a failure that
## prints every goroutine's stack, soon enough to read it.
test: vet
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## test-faults: the fault-injection tests (faults/): private 3-node NATS cluster and Postgres,
## nodes SIGKILLed, Postgres stopped hard, a worker SIGSTOPped. About two minutes; `make test` skips them.
test-faults:
	NEWSFLOW_FAULTS=1 $(GO) test -race -count=1 -timeout 10m -v -run '^TestFault_' ./faults/

## check: everything CI checks: formatting, go.mod tidiness, vet, staticcheck, tests, fault tests, deploy files.
check: fmt tidy staticcheck test test-faults deploy-check

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## tidy: fail when `go mod tidy` would change go.mod or go.sum.
tidy:
	$(GO) mod tidy -diff

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/worker ./cmd/publisher

## bench: the end-to-end benchmark on the loopback services (200k messages, 1 then 2 workers).
bench: build
	$(GO) run ./bench $(BENCHFLAGS)

deploy-check:
	bash deploy/check.sh

clean:
	rm -rf $(BIN) data
