# Two commands do all set-up: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SCENARIO ?= scenarios/baseline.yaml
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: install run test lint bench replicate viz clean chromium

$(STAMP): pyproject.toml requirements.lock scripts/find-python
	@set -e; py=$$(scripts/find-python); echo "using $$py"; \
	[ -x $(PY) ] || $$py -m venv $(VENV); \
	$(PY) -m pip install -q --upgrade pip; \
	$(PY) -m pip install -q -c requirements.lock -e '.[viz,dev]'; \
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/abm run $(SCENARIO)

test: $(STAMP) chromium
	$(PY) -m pytest

# The browser test drives Debian's Chromium. As root, install it (one apt-get update);
# otherwise say in one line what to install and stop before the tests.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "installing Debian's chromium for the browser test (apt-get install -y chromium)"; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        apt-get update -qq && apt-get install -y -qq chromium >/dev/null || exit 1; \
	    else \
	        echo "make test needs Chromium at $(CHROMIUM) for the viewer test: run 'sudo apt-get install -y chromium' (Debian/Ubuntu), then 'make test' again" >&2; \
	        exit 1; \
	    fi; \
	fi

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
