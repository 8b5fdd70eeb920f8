# Tollgate — build, run, test and measure.
GO        ?= go
BIN       := bin/tollgate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOTEST    ?= $(GO) test
TESTFLAGS ?= -count=1 -race -timeout 20m

.PHONY: build run test fuzz bench bench-proxy bench-router bench-cluster bench-pipeline bench-analytics cluster clean

## build: compile the tollgate binary into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tollgate

## run: build and start a standalone node (proxy :8000, Admin API 127.0.0.1:8001, data in ./data)
run: build
	./$(BIN) standalone

## test: vet and run every test under the race detector (fuzz targets run their seed corpus)
test:
	$(GO) vet ./...
	$(GOTEST) $(TESTFLAGS) ./...

## fuzz: run every fuzz target for FUZZTIME each (default 20s)
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## bench: Go benchmarks of the hot paths (router, plugin chain, balancer, proxy)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./gateway/...

## bench-router: router lookup at 10 and 10,000 routes
bench-router:
	$(GO) test -run '^$$' -bench 'Match' -benchmem ./gateway/route/

## bench-proxy: wrk against the upstream, nginx and tollgate on the same core (needs wrk and nginx)
bench-proxy: build
	./load/bench-proxy.sh

## bench-cluster: three gateway nodes on one in-memory CQL server: config propagation delay, rate-limit accuracy (policy cluster), Cassandra ops per request, throughput cluster vs local policy (about 5 minutes)
bench-cluster: build
	./load/bench-cluster.sh

## bench-pipeline: request log from the gateway's sink through Kafka (kfake) and the collector into ClickHouse: events/s and CPU per event, freshness p50/p99, proxy req/s with the log on vs off (about 2½ minutes; needs clickhouse-server)
bench-pipeline: build
	./load/bench-pipeline.sh

## bench-analytics: the analytics HTTP API over 10 million seeded requests in ClickHouse (BENCH_ROWS): every endpoint's p50/p95/p99 over 30 days and the last hour against the targets, the table each read, and the same SQL straight to ClickHouse as a baseline (about 15 minutes on 2 cores, a third of it seeding; needs clickhouse-server; BENCH_REUSE=1 keeps the data for the next run)
bench-analytics:
	./load/bench-analytics.sh

## cluster: start the docker-compose deployment (needs a Docker engine)
cluster:
	docker compose up --build

clean:
	rm -rf bin
