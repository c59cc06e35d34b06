# Two commands matter: `make serve` and `make test`. Everything else is for maintainers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080

.PHONY: serve test lint install install-test fuzz bench soak docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: install
	PORT=$(PORT) $(BIN)/cpt97124 serve --dev

test: lint
	$(BIN)/python -m pytest

# Lint and types first, in seconds: ruff over the whole repo, mypy over plugin/ and cds_hooks/
# (pyproject.toml [tool.ruff], [tool.mypy]; mypy's cache makes a re-run about a second).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

docs: install
	$(BIN)/cpt97124 docs rules > docs/rules.md

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .mypy_cache .ruff_cache

# ---- Proof of performance and robustness (docs/performance.md). Maintainers only. ----------
SOAK_SECONDS  ?= 300
FUZZ_EXAMPLES ?= 400

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

# One table: a bare Flask no-op, the product's no-op and both hooks under gunicorn loaded by wrk
# (installed from Debian when missing), in-process latency, history growth, chart size, the
# no-prefetch path against a local FHIR server, RSS per worker; each target met or not.
# Then the audit's rows: a generated Bulk Data export of AUDIT_CLAIMS claims, one worker vs all
# cores vs a two-worker Dask LocalCluster; AUDIT_LARGE=100000 measures growth up to 100,000 claims.
AUDIT_CLAIMS ?= 20000
AUDIT_LARGE  ?= 0
bench: $(VENV)/.installed-bench
	command -v wrk >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
	  --no-install-recommends -o DPkg::Lock::Timeout=600 wrk; }
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.audit --claims $(AUDIT_CLAIMS) --large $(AUDIT_LARGE)

# The full fuzz run: at least 5,000 generated requests (make test runs a small bounded one).
fuzz: install-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_MIN_REQUESTS=5000 $(BIN)/python -m pytest tests/fuzz

# SOAK_SECONDS at half the measured maximum, both hooks plus feedback; exits non-zero on a miss.
soak: $(VENV)/.installed-bench
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)
