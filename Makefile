# rehost — a newcomer needs only `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_WORKERS ?= 2
# `make test FAST=1` skips the slow end-to-end suites locally; CI (CI=true) always runs everything.
ifeq ($(FAST),1)
ifeq ($(CI),true)
$(error FAST=1 is refused under CI=true: CI runs every suite)
endif
PYTEST_SELECT := -m "not slow"
endif

.PHONY: demo test lint typecheck sysdeps sysdeps-demo postgres bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[server,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

sysdeps:
	@PYTHON=$(PY) bash scripts/install-system-deps.sh test

sysdeps-demo:
	@PYTHON=$(PY) bash scripts/install-system-deps.sh demo

demo: sysdeps-demo $(STAMP)
	$(BIN)/python -m rehost.demo

postgres: sysdeps
	@bash scripts/start-postgres.sh > .postgres-url

AGENT_CLOSURE := src/rehost/agent src/rehost/wire.py src/rehost/chunkdigest.py src/rehost/diskfmt src/rehost/privatefile.py src/rehost/errorbody.py src/rehost/protocol

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/vermin --target=3.6- --no-tips --violations -q $(AGENT_CLOSURE)
	$(BIN)/lint-imports --no-cache

test: sysdeps $(STAMP) postgres lint
	REHOST_TEST_DATABASE_URL="$$(cat .postgres-url)" $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_SELECT)

bench: sysdeps $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .postgres-url .pytest_cache .mypy_cache .ruff_cache
