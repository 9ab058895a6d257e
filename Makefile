# `make pipeline`: install into .venv (created when missing) and run the whole DVC pipeline.
# `make test`:     install into .venv, lint (ruff) and run the test suite (what CI runs).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install pipeline lint test

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

install: $(STAMP)

pipeline: $(STAMP)
	dvc repro

lint: $(STAMP)
	ruff check .
	ruff format --check .

test: lint
	python -m pytest
