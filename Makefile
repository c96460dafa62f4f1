# Two commands do all set-up: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SCENARIO ?= scenarios/baseline.yaml
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: install run test lint bench replicate viz clean

$(STAMP): pyproject.toml requirements.lock scripts/find-python
	@set -e; py=$$(scripts/find-python); echo "using $$py"; \
	[ -x $(PY) ] || $$py -m venv $(VENV); \
	$(PY) -m pip install -q --upgrade pip; \
	$(PY) -m pip install -q -c requirements.lock -e '.[viz,dev]'; \
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/abm run $(SCENARIO)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check abm tests analysis benchmarks && $(VENV)/bin/ruff format --check abm tests analysis benchmarks

bench: $(STAMP)
	$(VENV)/bin/abm bench

replicate: $(STAMP)
	$(VENV)/bin/abm replicate

viz: $(STAMP)
	$(VENV)/bin/abm viz $(SCENARIO)

clean:
	rm -rf $(VENV) .pytest_cache
