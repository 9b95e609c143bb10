# healthycity: the two commands are `make run` and `make test`; everything else is theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HC := $(VENV)/bin/healthycity
NHSUK_DIST := node_modules/nhsuk-frontend/dist/nhsuk
NHSUK_VERSION = $(shell sed -n 's/.*"nhsuk-frontend": "\(.*\)".*/\1/p' package.json)
STATIC_NHSUK := healthycity/web/static/nhsuk

.PHONY: run test lint types pytest bench assets install install-dev clean docs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.stamp-run: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-run
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.stamp-run assets
install-dev: $(VENV)/.stamp-dev assets

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STATIC_NHSUK)/.stamp: node_modules/.stamp
	rm -rf $(STATIC_NHSUK) && mkdir -p $(STATIC_NHSUK)
	cp $(NHSUK_DIST)/nhsuk-frontend-$(NHSUK_VERSION).min.css $(STATIC_NHSUK)/nhsuk-frontend.min.css
	cp $(NHSUK_DIST)/nhsuk-frontend-$(NHSUK_VERSION).min.js $(STATIC_NHSUK)/nhsuk-frontend.min.js
	cp -r $(NHSUK_DIST)/assets $(STATIC_NHSUK)/assets
	touch $@

assets: $(STATIC_NHSUK)/.stamp

## make run: set up everything, load the London pack and data, serve on 127.0.0.1:8000
## (choose with `make run PORT=8080 HOST=0.0.0.0`)
HOST ?= 127.0.0.1
PORT ?= 8000
run: install
	$(HC) db upgrade
	$(HC) pack load london
	$(HC) load published
	$(HC) demo load
	$(HC) serve --host $(HOST) --port $(PORT)

## make test: lint, types and the whole test suite
test: install-dev
	./scripts/system-deps.sh browser pdf
	$(MAKE) --no-print-directory lint types pytest

lint:
	$(VENV)/bin/ruff check healthycity tests benchmarks scripts
	$(VENV)/bin/ruff format --check healthycity tests benchmarks scripts

types:
	$(VENV)/bin/mypy healthycity

pytest:
	$(VENV)/bin/pytest -q -n 2 --dist loadscope -p no:cacheprovider --durations=15

## make bench: every benchmark, printing its figures and ratios (not part of make test)
bench: install-dev
	$(PY) -m pip install -q -r benchmarks/requirements.txt
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules $(STATIC_NHSUK) var build *.egg-info
