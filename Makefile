# Two commands for people: `make lab` and `make test`. Everything else is what they stand on.
# Stamps in .make/ make a second run redo only what changed.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := .make
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Tests and the demo use workspaces of their own, never the one `make lab` uses. The UI tests' Jupyter root is the
# folder above their workspace, as for a person (job notebooks are named relative to that one folder).
UI_ROOT := $(CURDIR)/ui-tests/.ui-root
UI_HOME := $(UI_ROOT)/.mlops
DEMO_HOME := $(CURDIR)/.mlops-demo
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
JS_SOURCES := $(shell find src style schema -type f -not -path 'src/generated/*' 2>/dev/null) api/openapi.yaml package.json \
  tsconfig.json yarn.lock

.PHONY: lab demo test setup api lint jstest pytest fuzz ui-test wheel-check clean

lab: setup
	@echo "JupyterLab on 127.0.0.1 with the MLOps panel (left sidebar): open the URL with the token it prints below; Ctrl-C stops it."
	jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.open_browser=False $(ROOT_FLAG) examples/lifecycle.ipynb

# Runs the example notebooks headless through a real kernel (nbclient); a failing cell fails the target.
demo: setup
	rm -rf $(DEMO_HOME)
	MLOPS_HOME=$(DEMO_HOME) jupyter execute --timeout=600 examples/lifecycle.ipynb examples/monitor_loop.ipynb; \
	  status=$$?; MLOPS_HOME=$(DEMO_HOME) $(PY) -m mlops_magics.cli deploy stop --all >/dev/null 2>&1; \
	  MLOPS_HOME=$(DEMO_HOME) $(PY) -m mlops_magics.cli controller stop >/dev/null 2>&1; exit $$status

test: setup lint jstest pytest ui-test

setup: $(STAMP)/python $(STAMP)/js

# api/openapi.yaml, written from the route table (mlops_magics/api/routes.py) and its models; commit the result.
# The panel's TypeScript types are generated from it by the JS build; `make test` fails when it is out of date.
api: setup
	$(PY) -m mlops_magics.api.openapi api/openapi.yaml

lint: setup
	$(VENV)/bin/ruff check mlops_magics tests ui-tests/jupyter_server_test_config.py
	$(VENV)/bin/ruff format --check mlops_magics tests
	$(VENV)/bin/lint-imports --no-cache  # the layers and cycles contracts in pyproject.toml ([tool.importlinter])
	jlpm lint:check

# The panel's pure helpers (src/runs.ts, …): jest unit tests, seconds.
jstest: setup
	jlpm test

pytest: setup
	$(PY) -m pytest -q

# The REST harness (tests/test_harness_api.py) run long: `make test` runs it with MLOPS_FUZZ_EXAMPLES=20 and
# MLOPS_FUZZ_SECONDS=60; this gives schemathesis FUZZ_SECONDS and 10x the cases. Figures: docs/security.md.
FUZZ_EXAMPLES ?= 200
FUZZ_SECONDS ?= 900
FUZZ_NAMES ?= 20000
# The scoring server's fuzz (tests/test_serving_fuzz.py): 1000 cases in `make test`, FUZZ_SERVING here.
FUZZ_SERVING ?= 20000
fuzz: setup
	MLOPS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MLOPS_FUZZ_SECONDS=$(FUZZ_SECONDS) MLOPS_FUZZ_NAME_EXAMPLES=$(FUZZ_NAMES) \
	  $(PY) -m pytest -q -s -p no:cacheprovider -o timeout=0 -m harness tests/test_harness_api.py
	MLOPS_FUZZ_SERVING_EXAMPLES=$(FUZZ_SERVING) \
	  $(PY) -m pytest -q -s -p no:cacheprovider -o timeout=0 tests/test_serving_fuzz.py -k no_client_input

ui-test: setup $(STAMP)/chromium $(STAMP)/ui-tests
	rm -rf $(UI_ROOT) && mkdir -p $(UI_ROOT)
	cd ui-tests && JUPYTERLAB_GALATA_ROOT_DIR=$(UI_ROOT) MLOPS_HOME=$(UI_HOME) jlpm playwright test; status=$$?; \
	  MLOPS_HOME=$(UI_HOME) ../$(PY) -m mlops_magics.cli deploy stop --all >/dev/null 2>&1; \
	  MLOPS_HOME=$(UI_HOME) ../$(PY) -m mlops_magics.cli controller stop >/dev/null 2>&1; exit $$status

# A wheel built here, installed into a fresh venv without node on PATH, gives panel, server extension and magics.
wheel-check: setup
	rm -rf dist /tmp/mlops-wheel-venv && $(PY) -m pip wheel --no-deps -w dist . && python3 -m venv /tmp/mlops-wheel-venv
	/tmp/mlops-wheel-venv/bin/pip install -q dist/mlops_magics-*.whl
	env -i PATH=/usr/bin:/bin HOME=$$HOME /tmp/mlops-wheel-venv/bin/jupyter labextension list 2>&1 | grep -E "mlops-magics.*enabled.*OK"
	env -i PATH=/usr/bin:/bin HOME=$$HOME /tmp/mlops-wheel-venv/bin/jupyter server extension list 2>&1 | grep -E "mlops_magics.*OK"
	/tmp/mlops-wheel-venv/bin/python -c "from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'mlops_magics'); assert 'cluster' in ip.magics_manager.magics['line']; print('magics OK')"

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP)/python: pyproject.toml package.json | $(PY)
	$(PY) -m pip install -q -e ".[test]"
	jupyter labextension develop --overwrite . >/dev/null
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/js: $(JS_SOURCES) $(STAMP)/python
	jlpm install --immutable
	jlpm build
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/chromium:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/ui-tests: ui-tests/package.json ui-tests/yarn.lock
	cd ui-tests && jlpm install --immutable
	@mkdir -p $(STAMP) && touch $@

clean:
	rm -rf $(STAMP) lib mlops_magics/labextension node_modules ui-tests/node_modules dist
