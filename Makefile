# The two commands a newcomer needs on a fresh Debian machine (as root): `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   := /usr/share/datasets/fashion-mnist

.PHONY: demo test test-fast data venv clean bench

$(BIN)/python:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Installed again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Debian's package dataset-fashion-mnist, when it is missing and apt can install it.
data:
	@if [ -d $(DATA) ] || [ -n "$$SCRATCHMLP_DATA_DIR" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "note: $(DATA) is missing and apt-get is not usable here; scratchmlp will look in"; \
	  echo "      \$$SCRATCHMLP_DATA_DIR and its cache, then try the official download"; \
	fi

demo: venv data
	$(BIN)/scratchmlp train --out runs/demo --force
	@echo "The chapter's run is in runs/demo/: curves.png, predictions.png, metrics.csv, model.npz, checkpoint.npz"

# A throwaway PostgreSQL server on loopback for the sweep's shared-study tests (see the script).
test: data $(VENV)/.installed-test
	scripts/with-postgres.sh $(BIN)/python -m pytest

# The inner loop: everything but the tests marked slow (subprocesses, the real data, the
# notebook, PostgreSQL, long fuzzing); under a minute on 2 cores. `make test` still runs all.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache

# One epoch against PyTorch (if installed), hand-fused NumPy and the GEMM floor: docs/benchmarks.md
bench: venv data
	$(BIN)/python benchmarks/bench_epoch.py
