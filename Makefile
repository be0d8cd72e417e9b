# The two commands: `make run` serves the lab on its embedded default store;
# `make test` installs what the tests need and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test bench

run: $(VENV)/.runtime
	$(BIN)/python run.py $(ARGS)

test: $(VENV)/.dev
	scripts/system-packages
	$(BIN)/python -m pytest $(ARGS)

bench: $(VENV)/.dev
	scripts/system-packages
	$(BIN)/python bench/exchange.py $(ARGS)

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@
