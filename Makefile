# AlgoItny: `make run` starts the whole platform, `make test` runs every test.
# Everything missing is installed first (Python venv from requirements.lock, Maven jars,
# Debian packages when a tool is absent).

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := shared $(wildcard services/*) clients/events clients/analytics tools
STAMP := $(VENV)/.installed

lock:
	rm -rf .lockvenv && $(PYTHON_BIN) -m venv .lockvenv
	.lockvenv/bin/pip install -q -r requirements.in
	(echo "# Generated from requirements.in by 'make lock' (pip freeze of a fresh venv). Do not edit by hand."; \
	 .lockvenv/bin/pip freeze --exclude-editable) > requirements.lock
	rm -rf .lockvenv

.PHONY: backup restore k8s k8s-check k8s-tools infra-code infra-check dashboards web web-types chromium lock help install system-deps infra-up infra-down infra-status run up down legacy legacy-status test test-unit lint docs events events-check analytics analytics-compact analytics-report bench faults fuzz clean

help:
	@echo "make run    start infrastructure, services and demo data (Ctrl-C stops all)"
	@echo "make test   install, start what is missing, run unit + integration + e2e tests, stop it"
	@echo "make up / make down   the platform in the background / stop it"
	@echo "make legacy  the legacy PostgreSQL (seeded when empty), Kafka Connect + Debezium, the importers, the reverse writer (docs/migration.md)"
	@echo "make web    build the web app (web/dist, served at /)   make web-types   regenerate its API types"
	@echo "make lint   ruff + mypy      make docs   regenerate docs/asyncapi.yaml and docs/events/"
	@echo "make events regenerate docs/events/ and the client models   make events-check   compatibility check"
	@echo "make analytics   follow the events into Parquet   make analytics-report FROM=YYYY-MM-DD TO=YYYY-MM-DD"
	@echo "make analytics-compact   merge each Parquet partition's files into one (safe beside the sink)"
	@echo "make bench  benchmarks under bench/ (results in bench/results/)"
	@echo "make backup DIR=...   every table, test-case objects, Kafka offsets   make restore DIR=... [FORCE=1]"
	@echo "make faults fault injection under load (bench/faults)    make fuzz   schemathesis against the gateway"
	@echo "make k8s    regenerate deploy/k8s/base   make k8s-check   render + validate the kustomize base and overlays"
	@echo "make infra-code   regenerate deploy/infra (CloudFormation, Kafka topics)   make infra-check   stale? + cfn-lint"

system-deps:
	@missing=""; \
	command -v $(PYTHON_BIN) >/dev/null || missing="$$missing python3.11 python3.11-venv"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v pypy3 >/dev/null || missing="$$missing pypy3"; \
	test -x /usr/bin/rustc || missing="$$missing rustc"; \
	command -v go >/dev/null || test -x /usr/local/go/bin/go || missing="$$missing golang-go"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The repository's packages are built in the venv itself (--no-build-isolation) with the setuptools
# pinned here (one that still ships pkg_resources, as the venv's own did): without it pip makes a
# fresh build environment, and installs setuptools into it, for each of the 12 packages (measured:
# 48.6 s of CPU for the editable installs, against 3.3 s + 10.7 s here).
BUILD_BACKEND := setuptools==75.8.0

$(STAMP): requirements.lock $(addsuffix /pyproject.toml,$(PACKAGES))
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock $(BUILD_BACKEND)
	$(PY) -m pip install -q --no-deps --no-build-isolation $(addprefix -e ,$(PACKAGES))
	@touch $@

# The web app (web/): npm ci when the lock file changed, vite build when a source changed.
WEB_MODULES := web/node_modules/.installed
WEB_DIST := web/dist/index.html
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json web/package.json

$(WEB_MODULES): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_DIST): $(WEB_MODULES) $(WEB_SOURCES)
	cd web && npm run --silent build

web: system-deps $(WEB_DIST)

# Regenerate web/openapi.json and the TypeScript types after an API change (a unit test checks both).
web-types: $(STAMP) $(WEB_MODULES)
	$(PY) web/scripts/dump_openapi.py
	cd web && npm run --silent gen:types

# Debian's Chromium for the browser tests (Playwright drives the installed browser), and a
# Korean font so that screenshots show Hangul.
chromium:
	@missing=""; command -v chromium >/dev/null || missing="chromium"; \
	fc-list 2>/dev/null | grep -qi nanum || missing="$$missing fonts-nanum"; \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

install: system-deps $(STAMP)
	@bash deploy/local/infra.sh install
	@bash deploy/local/legacy.sh install

infra-up: install
	@bash deploy/local/infra.sh up

infra-down:
	@bash deploy/local/infra.sh down

infra-status:
	@bash deploy/local/infra.sh status

run: install web
	@bash deploy/local/run.sh

up: infra-up
	@ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-local} $(PY) -m algoitny_devtools.platform up

down:
	@test ! -x $(PY) || ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-local} $(PY) -m algoitny_devtools.platform down
	@bash deploy/local/legacy.sh down
	@bash deploy/local/infra.sh down

# The legacy side of the migration (issue 15) next to a platform from `make run`/`make up`:
# PostgreSQL (seeded --scale small when empty), Kafka Connect with the Debezium connector,
# every service's legacy importer, and the reverse writer (issue 16: the rollback path; it writes
# nothing before cutover). `make down` stops them too.
legacy: infra-up
	@bash deploy/local/legacy.sh up
	@export ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-local}; \
	  $(PY) -m algoitny_migration seed-legacy --scale small --if-empty && \
	  $(PY) -m algoitny_migration connector register && \
	  $(PY) -m algoitny_devtools.platform importers && \
	  echo "status: $(PY) -m algoitny_migration status    verify: $(PY) -m algoitny_migration verify" && \
	  echo "phases (start, shadow, cutover, rollback): docs/migration-runbook.md"

legacy-status: $(STAMP)
	@ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-local} $(PY) -m algoitny_migration status

test: install web chromium events-check
	@bash deploy/local/test.sh

test-unit: install web
	@ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-test} $(PY) -m pytest -q -n auto -m "not integration and not e2e"

lint: $(STAMP) k8s-check infra-check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy shared/algoitny_shared $(filter-out %.egg-info,$(wildcard services/*/algoitny_*)) \
	  clients/events/algoitny_events clients/analytics/algoitny_analytics tools/algoitny_devtools

# Kubernetes (deploy/k8s): the kustomize base is generated from the code's definitions (make k8s);
# k8s-check renders base and overlays with kustomize (a kustomize or kubectl binary, else the one
# k8s-tools builds from Go modules into .local/bin) and validates them (Kubernetes schemas from the
# kubernetes-validate package, KEDA's CRD schema vendored in deploy/k8s/schemas) and their policies.
KUSTOMIZE_VERSION := v5.7.1
k8s: $(STAMP)
	$(PY) deploy/k8s/manifests.py write

k8s-tools:
	@command -v kustomize >/dev/null || command -v kubectl >/dev/null || test -x .local/bin/kustomize || \
	  { echo "building kustomize $(KUSTOMIZE_VERSION) from Go modules"; \
	    GOBIN=$(CURDIR)/.local/bin go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); }

k8s-check: $(STAMP) k8s-tools
	$(PY) deploy/k8s/check.py

# AWS infrastructure code (deploy/infra) generated from the services' tables, buckets.py and topics.py.
infra-code: $(STAMP)
	$(PY) deploy/infra/infra_code.py write

infra-check: $(STAMP)
	$(PY) deploy/infra/infra_code.py check
	$(VENV)/bin/cfn-lint deploy/infra/algoitny.cfn.json

# Grafana dashboards (deploy/observability/dashboards/), one per area; a unit test checks them and
# that alerts.yaml and the dashboards name only metrics the code defines.
dashboards: $(STAMP)
	$(PY) deploy/observability/dashboards.py write

docs: $(STAMP) events
	$(PY) -m algoitny_shared.asyncapi --out docs/asyncapi.yaml

# The event contract: docs/events/*.json (one JSON Schema per type and version) and the client's
# generated models, from the registry. `events` refuses a breaking change to an existing version;
# `events-check` (part of `make test`) fails on one, and when the files are out of date.
# EVENTS_BASE=<git ref> also checks against that commit's files (e.g. the target branch).
events: $(STAMP)
	$(PY) -m algoitny_shared.event_contract write

events-check: $(STAMP)
	$(PY) -m algoitny_shared.event_contract check $(if $(EVENTS_BASE),--against $(EVENTS_BASE))

# The analytics sink (clients/analytics, on the algoitny_events client): follow every domain
# topic into Parquet under $(ANALYTICS_DIR); the report prints JSON for FROM..TO (UTC days).
ANALYTICS_DIR ?= $(or $(ALGOITNY_ANALYTICS_DIR),.local/analytics)
analytics: $(STAMP)
	ALGOITNY_ANALYTICS_DIR=$(ANALYTICS_DIR) $(PY) -m algoitny_analytics follow

analytics-compact: $(STAMP)
	ALGOITNY_ANALYTICS_DIR=$(ANALYTICS_DIR) $(PY) -m algoitny_analytics compact

analytics-report: $(STAMP)
	@ALGOITNY_ANALYTICS_DIR=$(ANALYTICS_DIR) $(PY) -m algoitny_analytics report $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

bench: install web chromium
	@bash bench/run.sh

# Backup and restore of a namespace (every table as DynamoDB JSON lines, the test-case objects, the
# Kafka offsets at the time): DIR is a directory or s3://bucket/prefix. Restore writes into empty tables
# only (FORCE=1 overrides), then rebuilds the search index and the statistics by replay. docs/backup.md
backup: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make backup DIR=<directory or s3://bucket/prefix>"; exit 2; }
	@ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-local} $(PY) -m algoitny_shared.backup backup "$(DIR)"

restore: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make restore DIR=<directory or s3://bucket/prefix> [FORCE=1]"; exit 2; }
	@export ALGOITNY_ENVIRONMENT=$${ALGOITNY_ENVIRONMENT:-local}; \
	 $(PY) -m algoitny_shared.backup restore "$(DIR)" $(if $(FORCE),--force) && \
	 $(PY) -m algoitny_search_indexer reindex && \
	 $(PY) -m algoitny_stats rebuild --drop-old

faults: install
	@bash bench/run.sh faults

fuzz: install
	@bash bench/run.sh fuzz

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
