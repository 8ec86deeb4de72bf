# Two commands: `make run` (set up, migrate, load the demo, serve) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := challenge

.PHONY: run test lint bench loadtest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/flask --app challenge db upgrade
	$(BIN)/flask --app challenge demo load
	$(BIN)/flask --app challenge run --host 127.0.0.1 --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# pytest exits 5 when it collects no test at all; treat that as success, not as a crash.
test: lint
	$(BIN)/python -m pytest; status=$$?; [ $$status -eq 5 ] && exit 0; exit $$status

bench: $(VENV)/.installed-dev
	@for b in bench/bench_*.py; do [ -e "$$b" ] && $(BIN)/python "$$b"; done; true

# Load and fault scenarios against gunicorn (a few minutes; see loadtest/run.py).
loadtest: $(VENV)/.installed-dev
	@$(BIN)/python loadtest/run.py

clean:
	rm -rf $(VENV) instance/challenge.db*
