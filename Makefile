# campaign-gateway: the commands a newcomer needs. `make demo` and `make test` work on a fresh Debian machine.
SWIFT ?= swift
SWIFTC ?= swiftc
SIM_PORT ?= 9090
GATEWAY_PORT ?= 8080

.PHONY: help deps python-env promtool generate build release test demo demo-cluster bench soak soak-asan soak-tools fuzz check-config format lint clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: ## Install the system packages the build and the tests need (libcurl headers, redis-server), if missing
	@if { [ ! -f /usr/include/x86_64-linux-gnu/curl/curl.h ] && [ ! -f /usr/include/curl/curl.h ]; } || [ ! -f /usr/include/zlib.h ] \
		|| ! command -v pkg-config >/dev/null || [ ! -x /usr/bin/redis-server ] || ! command -v openssl >/dev/null; then \
		echo "installing libcurl4-openssl-dev zlib1g-dev pkg-config redis-server openssl"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcurl4-openssl-dev zlib1g-dev pkg-config redis-server openssl; \
	fi

PYTHON_ENV := .build/python-env
python-env: ## The Python environment of the generated-client tests (grpcio, grpcio-tools, protobuf from PyPI), if missing
	@if [ ! -x $(PYTHON_ENV)/bin/python ] || ! cmp -s Tests/ThirdPartyClients/requirements.txt $(PYTHON_ENV)/requirements.txt; then \
		command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null \
			|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv); \
		rm -rf $(PYTHON_ENV) && python3 -m venv $(PYTHON_ENV) \
		&& $(PYTHON_ENV)/bin/pip install -q --disable-pip-version-check -r Tests/ThirdPartyClients/requirements.txt \
		&& cp Tests/ThirdPartyClients/requirements.txt $(PYTHON_ENV)/requirements.txt; \
	fi

PROMTOOL := .build/tools/promtool
promtool: ## promtool (checks the alert rules and the metrics' naming in the tests), taken from Debian's prometheus package without installing the server, if missing
	@if [ ! -x $(PROMTOOL) ]; then \
		rm -rf .build/tools/prometheus-deb && mkdir -p .build/tools/prometheus-deb \
		&& (cd .build/tools/prometheus-deb && { apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }; }) \
		&& dpkg-deb -x .build/tools/prometheus-deb/prometheus_*.deb .build/tools/prometheus-deb/root \
		&& ln -sf prometheus-deb/root/usr/bin/promtool $(PROMTOOL) && rm -f .build/tools/prometheus-deb/prometheus_*.deb; \
	fi

generate: ## Regenerate Sources/GatewayProto from proto-docs/ and third_party/proto/ (builds the protoc plugins: slow the first time)
	@command -v protoc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler)
	bash scripts/generate.sh

build: deps ## Debug build
	$(SWIFT) build

release: deps ## Release build
	$(SWIFT) build -c release

# Suites that measure how much of a rate limit is used, or when, run afterwards one test at a time:
# on two cores the other suites running beside them would decide their figures.
PACED_SUITES := RefreshAheadTests|BudgetClassTests|JobBudgetTests|JobReplicaTests|ReplicaTests|RedisBudgetTests|BudgetAdmissionTests|StatsEngineBudgetTests|CallerIsolationTests|SimulatorRateLimitTests|InboundLimitsTests|GRPCInboundLimitsTests
test: deps python-env promtool ## Build and run every test (real HTTP and gRPC on loopback against the in-process simulator, generated Python clients)
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip '\.($(PACED_SUITES))/'
	$(SWIFT) test --skip-build --no-parallel --filter '\.($(PACED_SUITES))/'

demo: build ## Start moengage-sim and the gateway on loopback and print ready-to-paste curl calls
	@SIM_PORT=$(SIM_PORT) GATEWAY_PORT=$(GATEWAY_PORT) bash scripts/demo.sh

demo-cluster: build ## Start redis-server, moengage-sim and three gateway replicas sharing it; print curl calls across replicas
	@SIM_PORT=$(SIM_PORT) bash scripts/demo-cluster.sh

bench: deps ## Release build, then the benchmarks: the cache-hit path side by side with nginx, and on every transport (figures go to BENCHMARKS.md by hand)
	@{ command -v wrk >/dev/null && command -v h2load >/dev/null && [ -x /usr/sbin/nginx ]; } \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx nghttp2-client)
	$(SWIFT) build -c release --product gateway-bench
	./.build/release/gateway-bench

SOAK_SECONDS ?= 120
soak-tools:
	@{ command -v wrk >/dev/null && command -v jq >/dev/null && command -v curl >/dev/null; } \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk jq curl)

soak: deps soak-tools ## Release gateway + moengage-sim (10 % 500s) under a mixed wrk load for SOAK_SECONDS (default 120): codes, breaches, RSS; fails on a crash, a breach or RSS > cache + 40 MB
	SOAK_SECONDS=$(SOAK_SECONDS) bash scripts/soak.sh release

soak-asan: deps soak-tools ## The same soak against an AddressSanitizer build (.build/asan); fails on any sanitizer report
	SOAK_SECONDS=$(SOAK_SECONDS) bash scripts/soak.sh asan

FUZZ_SECONDS ?= 120
fuzz: ## Fuzz the JSON reader and writer (libFuzzer + AddressSanitizer) for FUZZ_SECONDS (default 120)
	@mkdir -p .build/fuzz/corpus
	$(SWIFTC) -sanitize=fuzzer,address -parse-as-library -g -O -module-name DynamicJSON Sources/DynamicJSON/*.swift Fuzz/JSONFuzz.swift \
		-o .build/fuzz/json-fuzz 2> .build/fuzz/build.log || { cat .build/fuzz/build.log; exit 1; }
	.build/fuzz/json-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 .build/fuzz/corpus Fuzz/seeds

check-config: build ## Validate deploy/gateway.example.yaml with example secrets in the environment
	MOENGAGE_MARKETING_API_KEY=example MOENGAGE_MARKETING_SECRET_KEY=example MIGMA_API_KEY=example REPORTING_SERVICE_TOKEN=example \
		./.build/debug/campaign-gateway check-config deploy/gateway.example.yaml

format: ## Format the sources with swift-format
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

lint: ## Check formatting with swift-format
	$(SWIFT) format lint --recursive Sources Tests Package.swift

clean: ## Remove build products
	rm -rf .build
