# Paydesk — `make run` serves the app on a bare machine; `make test` runs the checks and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PY := $(BIN)/python

.PHONY: run test check bench venv migrate demo clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Paydesk needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(BIN)/paydesk migrate

demo: migrate
	$(BIN)/paydesk demo

run: demo
	@echo "Paydesk is starting on http://127.0.0.1:8000  (API docs: /api/docs, health: /healthz)"
	$(BIN)/paydesk serve

check: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/mypy src bench

test: check
	$(BIN)/pytest -q

bench: $(STAMP)
	$(PY) bench/ledger.py
	@if [ -n "$$PAYDESK_TEST_DATABASE_URL" ]; then $(PY) bench/api_transfers.py; fi
	$(PY) bench/chat_fanout.py
	$(PY) bench/help_search.py

clean:
	rm -rf var/bench-* .pytest_cache .mypy_cache .ruff_cache
