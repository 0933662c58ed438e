# Log enrichment on Kafka + Airflow + MLflow. `make help` lists the targets.
# Every recipe sources scripts/env.sh: the local stack's ports, folders and connections.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
ENV := . scripts/env.sh &&
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install native up kafka-up kafka-down setup airflow-init demo screenshot soak test test-fast lint bench-latency \
        typecheck bench bench-dag bench-engine bench-pipeline airflow mlflow-ui down clean lock \
        cluster-up cluster-down test-cluster bench-cluster

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install pinned dependencies + this project (editable)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml \
          native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements-dev.txt -c constraints.txt -e .
	$(MAKE) --no-print-directory native
	@touch $@

# The native part (native/, Rust via maturin: normaliser and output encoder) is optional:
# without cargo, enrich does the same work in Python, with the same results.
native: ## build + install the native normaliser and encoder (optional; needs cargo)
	@export PATH="$$HOME/.cargo/bin:$$PATH"; \
	if command -v cargo >/dev/null; then \
	  $(BIN)/uv pip install -q --python $(BIN)/python --reinstall-package enrich-native ./native \
	  && $(BIN)/python -c "import enrich_native" \
	  || { echo "the native module did not build or does not load (see above); without cargo on PATH enrich runs in Python"; exit 1; }; \
	else \
	  echo "no Rust toolchain (cargo): enrich normalises and encodes in Python (same results, slower)"; \
	fi

kafka-up: ## start the local Kafka broker (KRaft, 127.0.0.1:$KAFKA_PORT); harmless if running
	@scripts/kafka.sh start

kafka-down: ## stop the local Kafka broker
	scripts/kafka.sh stop

airflow-init: $(STAMP) ## migrate Airflow's SQLite metadata DB under var/airflow
	@$(ENV) mkdir -p "$$AIRFLOW_HOME" && airflow db migrate >"$$AIRFLOW_HOME/db-migrate.log" 2>&1 \
	  || { tail -n 40 "$$AIRFLOW_HOME/db-migrate.log"; exit 1; }

setup: $(STAMP) kafka-up airflow-init ## topics + MLflow experiment (idempotent)
	@$(ENV) $(BIN)/enrich setup

up: setup ## everything the demo and tests need, started and prepared

demo: up ## load sample logs, run the pipeline end to end, print what it did
	@$(ENV) $(BIN)/python scripts/demo.py

soak: up ## 1% bad input for SOAK_MINUTES (5) while the task is killed at random; counts + memory
	$(ENV) $(BIN)/python bench/soak.py --minutes $${SOAK_MINUTES:-5}

screenshot: up ## docs/labelling-question.png: the real Required actions page (needs chromium; after make demo)
	$(ENV) $(BIN)/python scripts/screenshot_labelling.py

test: up lint typecheck ## lint, type-check, then the whole suite against the real stack
	$(ENV) $(BIN)/pytest $(PYTEST_ARGS)

cluster-up: $(STAMP) ## the local cluster: 3 Kafka brokers, Airflow on Celery (2 workers), PostgreSQL, Redis, MLflow server
	scripts/cluster.sh start

cluster-down: ## stop the local cluster (data kept in var/cluster; scripts/cluster.sh clean deletes it)
	scripts/cluster.sh stop

bench-cluster: cluster-up ## log_enrichment's throughput on the local cluster with 1 and 2 Celery workers
	. scripts/cluster-env.sh && $(BIN)/python bench/bench_cluster.py

test-cluster: cluster-up ## the cluster's tests: exactly once across workers, brokers and workers killed
	. scripts/cluster-env.sh && $(BIN)/pytest -m cluster tests/cluster $(PYTEST_ARGS)

test-fast: $(STAMP) ## unit tests only (no broker, MLflow or Airflow)
	$(ENV) $(BIN)/pytest -m "not integration and not cluster" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check + ruff format --check + the layers' import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=. $(BIN)/lint-imports --no-cache

typecheck: $(STAMP) ## mypy over plugins/enrich, dags and tests
	$(ENV) $(BIN)/mypy

bench: bench-engine bench-pipeline ## all benchmarks (figures go in the README's performance section)

bench-pipeline: up ## 1M lines through the broker: passthrough vs enrichment task vs provider operator
	$(ENV) $(BIN)/python bench/bench_pipeline.py

bench-dag: up ## log_enrichment under the real scheduler (airflow standalone) at rising input rates (~20 min)
	$(ENV) $(BIN)/python bench/bench_dag.py

bench-latency: up ## seconds from produce to enriched, scheduled vs event-driven, under airflow standalone (~10 min)
	$(ENV) $(BIN)/python bench/bench_latency.py

bench-engine: $(STAMP) ## enrich_batch throughput and peak memory, 200k lines, one core
	$(ENV) $(BIN)/python bench/bench_engine.py

airflow: up ## Airflow UI + scheduler (airflow standalone) on http://127.0.0.1:$AIRFLOW__API__PORT
	@$(ENV) echo "Airflow UI: http://127.0.0.1:$$AIRFLOW__API__PORT  user admin, password in" \
	  "$$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
	$(ENV) airflow standalone

mlflow-ui: $(STAMP) ## MLflow UI on http://127.0.0.1:$MLFLOW_PORT
	$(ENV) mlflow ui --backend-store-uri "$$MLFLOW_TRACKING_URI" \
	  --default-artifact-root "$$ENRICH_MLFLOW_ARTIFACT_ROOT" --host 127.0.0.1 --port "$$MLFLOW_PORT"

down: ## stop the broker (Airflow/MLflow UIs stop with Ctrl-C)
	scripts/kafka.sh stop

clean: down ## stop, then delete all local state (var/: Kafka data, MLflow, Airflow)
	rm -rf var

lock: ## re-resolve constraints.txt from requirements*.txt
	$(BIN)/uv pip compile requirements-dev.txt --python 3.11 --no-header --annotation-style line \
	  -o constraints.txt
