# The two commands: `make test` and `make run`. Everything they need is installed here,
# from nothing but python3 (3.11 or newer) and pip, into a local virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

NODE_STAMP := node_modules/.installed

.PHONY: install test lint typecheck unit run lock clean screenshot bench soak bench-turns language-report privacy-report libreoffice

$(STAMP): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Plan Tracker needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	@# The names the identifying-details check knows, drawn once per machine from names-dataset
	@# (reading the whole dataset takes a while and much memory; the bot then reads a small cache).
	$(BIN)/python -c 'from bot.privacy.names import names; names()'
	@# The intent model trained from the corpus, kept beside the names (retrained when the corpus changes).
	$(BIN)/python -c 'from bot.language import warm; warm()'
	@touch $@

# The Teams client for the end-to-end tests and `make run`: installed locally from the lock file
# when Node.js is here; without it those tests are skipped and say so.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the Agents Playground (Teams client) will not be installed"; \
	fi

install: $(STAMP) $(NODE_STAMP)

# LibreOffice Calc, for the test that opens the exports as a spreadsheet program would (Debian's
# libreoffice-calc without recommends: about 41 MB to download, 290 MB installed). Installed with
# apt-get only when it is missing and make runs as root, as CI does: never a sudo prompt. Otherwise,
# or if apt-get cannot fetch it, that test is skipped and says why.
libreoffice:
	@if command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing LibreOffice Calc (apt-get, about 41 MB) for the export tests"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc >/dev/null; } || \
		echo "LibreOffice could not be installed: the LibreOffice export test will be skipped"; \
	else \
		echo "LibreOffice is not installed (as root, make installs it): the LibreOffice export test will be skipped"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install libreoffice
	$(BIN)/pytest

test: lint typecheck unit

run: install
	$(BIN)/planbot demo --rebase --if-empty
	$(BIN)/planbot serve --playground

# Re-pin the lock files after changing dependencies in pyproject.toml.
lock: install
	$(PIP) install uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

# The benchmark of issue 11 (prints figures, writes bench/results/; asserts nothing; not part of
# `make test`). The Agents SDK echo and matplotlib live in an environment of their own, never the product's.
# make bench QUICK=1 for a minute's subset; make bench ARGS="--sizes demo --cases my_actions,update".
AGENTS_VENV := bench/.agents-venv
AGENTS_STAMP := $(AGENTS_VENV)/.installed

$(AGENTS_STAMP): bench/agents-requirements.lock
	@test -x $(AGENTS_VENV)/bin/python || $(PYTHON) -m venv $(AGENTS_VENV)
	$(AGENTS_VENV)/bin/python -m pip --quiet --disable-pip-version-check install --require-hashes -r bench/agents-requirements.lock
	@touch $@

bench: install $(AGENTS_STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(ARGS)

# The soak of issue 12 (bench/soak.py; not part of `make test`): 50,000 messages from 500 people of 20
# partnerships at concurrency 32 against one `planbot serve` on PostgreSQL, with a Bot Connector that
# fails a tenth of the replies. make soak SOAK_MESSAGES=5000 for a quick look; ARGS="--backends postgresql,sqlite".
SOAK_MESSAGES ?= 50000

soak: install
	$(BIN)/python -m bench.soak --messages $(SOAK_MESSAGES) $(ARGS)

# How long one turn takes in-process (the older, smaller benchmark).
bench-turns: install
	$(BIN)/python -m tests.benchmarks.turns

# How well messages are understood: cross-validated accuracy per intent, confusion, every misread
# utterance of the corpus (bot/language/corpus.tsv). Prints figures; not part of `make test`.
language-report: install
	$(BIN)/python -m bot.language.report

# A screenshot of a real conversation in the playground, for the README (needs Debian's chromium).
screenshot: install
	$(BIN)/python docs/screenshot.py docs/playground.png

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache

# How well identifying details are found in notes: recall and precision per category over the corpus
# (tests/privacy/*.tsv), every miss and false alarm, cost per note. Prints figures; not part of `make test`.
privacy-report: install
	$(BIN)/python -m bot.privacy.report
