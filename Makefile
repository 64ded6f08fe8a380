# The two commands of the README: `make run` and `make test`. Both install what is missing.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint check bench proto fuzz soak

LINT_PATHS := gateway tests benchmarks

install:
	@./deploy/install.sh

run: install
	$(VENV)/bin/kmsgw serve $(ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The long forms `make test` leaves out (pyproject addopts deselects the fuzz and soak markers).
fuzz: install
	$(PY) -m pytest -m fuzz $(PYTEST_ARGS)

soak: install
	$(PY) -m pytest -m soak $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)

# The guards CI runs before the tests (.ci/run): lint, formatting, types (mypy also reports unused
# `# type: ignore`) and the import rules (import-linter, contracts in pyproject.toml). Every step runs;
# any finding fails the target.
check: install
	@status=0; \
	for step in "ruff check $(LINT_PATHS)" "ruff format --check $(LINT_PATHS)" "mypy" "lint-imports"; do \
		echo "== $$step"; $(VENV)/bin/$$step || status=1; \
	done; \
	exit $$status

# wrk is the HTTP load generator of the REST, AWS and moto rows (without it they fall back to a
# slower Python loader and say so in their notes).
bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "bench: apt-get install wrk" >&2; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null || echo "bench: no wrk, using the Python loader" >&2; }
	$(PY) -m pip install -q -e ".[test,bench]"
	$(PY) -m benchmarks $(ARGS)

proto: install
	PATH=$(VENV)/bin:$$PATH ./proto/generate.sh
