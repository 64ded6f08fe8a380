# The two commands of the README: `make run` and `make test`. Both install what is missing.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint bench proto fuzz soak

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
	$(VENV)/bin/ruff check gateway tests benchmarks

bench: install
	$(PY) -m pip install -q -e ".[test,bench]"
	$(PY) -m benchmarks $(ARGS)

proto: install
	PATH=$(VENV)/bin:$$PATH ./proto/generate.sh
