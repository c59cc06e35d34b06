# Two commands matter: `make serve` and `make test`. Everything else is for maintainers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080

.PHONY: serve test install install-test fuzz bench soak docs clean

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

test: install-test
	$(BIN)/python -m pytest

docs: install
	$(BIN)/cpt97124 docs rules > docs/rules.md

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
