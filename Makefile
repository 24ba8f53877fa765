# Folio's commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# uv from PATH, or a private copy installed from PyPI on first use.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PACKAGES := shared/contracts shared/chassis shared/testkit services/catalog services/ordering services/rating services/notification tools/devstack tools/ops services/loadgenerator
SERVICES := catalog ordering rating notification
# What the images build the workspace packages with (pyproject.toml's build-system), locked with hashes.
BUILD_BACKEND := hatchling>=1.25

.PHONY: help setup lock lint format test test-unit test-integration test-e2e images infra up down logs demo bench catalog docs deploy-check alerts schemas new-service

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.installed: requirements.lock $(UV) $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) --require-hashes requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps $(foreach p,$(PACKAGES),-e $(p))
	touch $@

setup: $(VENV)/.installed ## install every package and the tools into .venv from the lock

lock: $(UV) ## resolve dependencies as of pyproject's exclude-newer and write the locks (names, versions, hashes only)
	$(UV) lock --quiet
	$(UV) export --quiet --frozen --all-groups --no-emit-workspace --no-emit-project --no-header -o requirements.lock
	$(foreach s,$(SERVICES),$(UV) export --quiet --frozen --package folio-$(s) --no-dev --no-emit-workspace --no-header -o services/$(s)/requirements.lock;)
	echo '$(BUILD_BACKEND)' | $(UV) pip compile --quiet --generate-hashes --no-header --no-annotate \
		--python-version 3.11 - -o services/catalog/build-requirements.lock
	$(foreach s,$(filter-out catalog,$(SERVICES)),cp services/catalog/build-requirements.lock services/$(s)/;)
	$(UV) export --quiet --frozen --package folio-ops --no-dev --no-emit-workspace --no-header -o tools/ops/requirements.lock
	cp services/catalog/build-requirements.lock tools/ops/

lint: setup ## ruff and mypy --strict over the whole workspace
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/contracts/src shared/chassis/src shared/testkit/src tools/devstack/src tools/ops/src services/loadgenerator/src \
		$(foreach s,$(SERVICES),services/$(s)/src) scripts bench

format: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: setup ## re-export the contracts' JSON Schemas after a deliberate change
	$(PY) -m contracts.schemas export

test-unit: setup ## unit and contract tests (no servers)
	$(VENV)/bin/pytest -q shared/contracts/tests $(shell find shared/chassis/tests shared/testkit/tests services tools/ops/tests -path '*/tests/unit' -type d)

test-integration: setup ## integration tests against the real PostgreSQL and RabbitMQ
	$(VENV)/bin/pytest -q $(shell find shared/chassis/tests shared/testkit/tests services tools/ops/tests -path '*/tests/integration' -type d)

test: lint deploy-check ## everything CI runs: lint, unit, contract, integration and end-to-end tests
	scripts/test_tools.sh
	$(PY) -m contracts.schemas check
	$(VENV)/bin/pytest -q -p no:cacheprovider --durations=20 shared services tools/ops tests

infra: setup ## start local servers where stopped, then each service's databases, roles, broker users, queues (idempotent)
	scripts/local_servers.sh
	$(VENV)/bin/folio-bootstrap apply --dev

catalog: setup ## build the EventCatalog site (Node 22 from npm), open every page in Chromium, keep a picture of the flow
	$(PY) scripts/gen_asyncapi.py --check
	$(PY) scripts/gen_eventcatalog.py --check
	scripts/build_eventcatalog.sh
	$(PY) scripts/check_eventcatalog_build.py --browse --screenshot docs/eventcatalog-flow.png

docs: setup ## regenerate the AsyncAPI documents and the EventCatalog content from the contracts
	$(PY) scripts/gen_asyncapi.py
	$(PY) scripts/gen_eventcatalog.py

bench: setup ## orders at rising rates against the running system (or a stack of its own): table, JSON, PNG
	$(PY) bench/system_bench.py $(BENCH_ARGS)

images: ## build every service image (Docker, else Podman; a Debian stand-in base where none can be pulled)
	scripts/build_images.sh $(IMAGES)

new-service: setup ## start services/NAME from templates/service, registered everywhere a service is listed (PORT= optional)
	@test -n "$(NAME)" || { echo "usage: make new-service NAME=<name> [PORT=<port>]" >&2; exit 2; }
	$(PY) scripts/new_service.py $(NAME) $(if $(PORT),--port $(PORT))

deploy-check: setup ## validate the Dockerfile, compose and every kustomization (overlays, base, each service) offline
	$(PY) scripts/deploy_check.py

alerts: ## unit-test the Prometheus alert rules (promtool: apt-get install prometheus; CI must have it)
	cd deploy/monitoring && promtool check rules alerts.yml && promtool test rules alerts_test.yml

up: infra ## migrate and start every service (api and worker) and a mail sink under honcho
	$(VENV)/bin/folio-stack up

down: ## stop what `make up` started
	$(VENV)/bin/folio-stack down

logs: ## follow the logs of what `make up` started
	$(VENV)/bin/folio-stack logs

demo: ## walk through Folio over HTTP against what `make up` started: orders, feedback, timelines, e-mails
	$(VENV)/bin/folio-stack demo

test-e2e: setup ## the end-to-end suite alone: the whole system as real processes, faults included
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/e2e
