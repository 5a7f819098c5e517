# 贷后回访助手 — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_QUIET := -qq  # errors only: no progress, no warnings from pip or the build backend
CHROMIUM := /usr/bin/chromium
# the web desk's browser tests (tests/web) drive Debian's chromium; the font gives their screenshots CJK glyphs
BROWSER_PACKAGES := chromium fonts-wqy-microhei

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip
	@$(BIN)/python -m pip install $(PIP_QUIET) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (playwright drives it; it never downloads a browser of its own).
# As root (CI, a container) make installs it; anyone else is told the one command.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(BROWSER_PACKAGES) for the browser tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	else \
		echo "The browser tests (tests/web) need Debian's chromium: sudo apt-get install -y $(BROWSER_PACKAGES)" >&2; \
		exit 1; \
	fi

demo: $(STAMP)
	$(BIN)/visitbot db upgrade
	$(BIN)/visitbot demo load
	$(BIN)/visitbot console

test: $(STAMP) $(CHROMIUM)
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
	$(BIN)/python -m bench.briefing
	$(BIN)/python -m bench.web_desk
	$(BIN)/python -m bench.export_xlsx
	$(BIN)/python -m bench.outbox_flood
	# issue 13: the peers in their own virtualenv (.venv-anchors), then visitbot through the real Telegram
	# path beside them (the side-by-side table with the ratios), /visit and RSS at 10,000 open visits,
	# what one statement costs at each layer from the driver up to the ORM session (statement_floor),
	# two webhook workers against one on PostgreSQL, a Bot API call over HTTP by the request it goes
	# through; docs/PERFORMANCE.md says how to read them
	$(BIN)/python -m bench.anchors
	$(BIN)/python -m bench.telegram_path
	$(BIN)/python -m bench.statement_floor
	$(BIN)/python -m bench.open_visits
	$(BIN)/python -m bench.workers
	$(BIN)/python -m bench.bot_api_http

clean:
	rm -rf $(VENV) visitbot.db visitbot.db-* artefacts
