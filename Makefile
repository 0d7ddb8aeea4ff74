# Aftercare: `make run` sets up, ingests the bundled corpus and serves; `make test` checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
# An index of CPU-only torch wheels (the image sets it); unset: the default index.
TORCH_INDEX ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install lint typecheck pytest browser clean bench torch image scale-up scale-down

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned, so that pip takes the CPU build and never a CUDA one.
torch: $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))

$(STAMP): $(BIN)/python pyproject.toml
	$(MAKE) torch
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/aftercare ingest
	$(BIN)/aftercare serve

# Headless Chromium for the page tests (Debian's package; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy app ingestion escalation avatar_bridge

pytest: install browser
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: install
	$(BIN)/python benchmarks/turn_latency.py
	$(BIN)/python benchmarks/ingest.py

# The container image (Dockerfile); needs Docker.
image:
	docker build -t aftercare:$(VERSION) .

# PostgreSQL, a Chroma server, 2 web workers and 1 worker as local processes (no Docker).
scale-up: install
	$(BIN)/python -m app.operations.local_topology up

scale-down:
	$(BIN)/python -m app.operations.local_topology down

clean:
	rm -rf $(VENV) .aftercare .mypy_cache .ruff_cache .pytest_cache
