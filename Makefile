# The README's two commands are `make demo` and `make test`; both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Collections the demo, the tests and docs/training.md use, and the browser the web map's
# tests drive (Debian's chromium: nothing is downloaded at test time).
DEB_PACKAGES := openclipart-png openclipart-svg dataset-fashion-mnist chromium
# The web map builds with Node.js and npm; Debian's are installed only where none is on PATH.
WEB_MAP := search_api/static/map/manifest.json
WEB_SOURCES := $(wildcard web/src/*) web/build.mjs web/package.json
PYTEST_ARGS ?=

.PHONY: demo test install system-deps web bench proto clean help

help:
	@echo "make demo    install, build the openclipart bundle and serve it on :8080"
	@echo "make test    install and run the whole test suite"
	@echo "make web     build the web map (web/ -> search_api/static/map) with npm"
	@echo "make bench   run the search benchmarks (docs/benchmarks.md)"
	@echo "make proto   regenerate the gRPC code in vitrina/v1 from proto/vitrina/v1/*.proto"

system-deps:
	@dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(DEB_PACKAGES); }
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs npm; }

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund

$(WEB_MAP): web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web: system-deps $(WEB_MAP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: the CPU wheel, not a multi-GB CUDA build pulled in by a dependency.
	$(BIN)/pip install -q torch==2.13.0
	# The Makefile builds the web map itself (make web); setup.py's hook is for wheels.
	VITRINA_SKIP_WEB_BUILD=1 $(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: system-deps $(STAMP) web

demo: install
	$(BIN)/vitrina demo

test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install -q -e ".[dev,bench]"
	$(BIN)/python bench/search.py

# The generated code is checked in; tests/unit/search_api/test_grpc.py fails when it is stale.
proto: $(STAMP)
	$(BIN)/python -m vitrina.search_api.grpc.codegen

clean:
	rm -rf $(VENV) bundles .pytest_cache web/node_modules search_api/static/map test-artifacts
