# Everything runs from the project's own virtualenv, created from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= local
ARGS ?=

.PHONY: venv plan test lint unit bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make plan [STACK=local] [ARGS=--json]: offline plan of Pulumi.$(STACK).yaml (no CLI, cloud or Docker)
plan: venv
	$(PY) -m offline.plan --stack $(STACK) $(ARGS)

## make test: lint, type-check and the whole test suite (what CI runs)
test: lint unit

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: venv
	$(PY) -m pytest -q

## make bench: plan time and resource count of every shipped stack (repeated runs, min/median)
bench: venv
	$(PY) -m offline.bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
