# 贷后回访助手 — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_QUIET := -qq  # errors only: no progress, no warnings from pip or the build backend

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip
	@$(BIN)/python -m pip install $(PIP_QUIET) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/visitbot db upgrade
	$(BIN)/visitbot demo load
	$(BIN)/visitbot console

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check bot dialogs storage
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.import_loans
	$(BIN)/python -m bench.plan
	$(BIN)/python -m bench.outbox_flood

clean:
	rm -rf $(VENV) visitbot.db visitbot.db-*
