# The two commands: `make run` (Foule locally) and `make test` (the whole suite).
# Each creates the virtualenv and installs what it needs first; nothing else is assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev

.PHONY: run test demo venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: venv
	$(BIN)/python -m tools.local_stack

test: venv
	$(BIN)/python -m pytest

# With `make run` going in another terminal: replay a real dataset through the HTTP API.
DATASET ?= ../shared/datasets/rte
demo: venv
	$(BIN)/python -m tools.replay --dataset $(DATASET) --concurrency 8 --gold-fraction 0.1 --seed 1

clean:
	rm -rf $(VENV) .local .pytest_cache dist
