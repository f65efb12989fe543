# The two commands (see README.md):
#   make hub    install what is needed and start the hub on http://127.0.0.1:8000 (embedded defaults)
#   make test   install what is needed and run the whole test suite
# Quick targets for daily work: make unit (no hub, browser or servers), make lint.
# Users' servers run this environment's Python as their own accounts, so its interpreter and standard library
# must be readable by every account: the system's Python, not one installed under root's private home (a pyenv
# under /root, mode 0700, cannot be run by anyone else). `workbench check` says when it cannot be.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: hub test test-images unit lint install chromium images

hub: install
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/workbench hub

# Three test processes (pytest-xdist): most of the suite waits on hubs, servers and browsers, so more processes
# than cores pay (on 2 cores: ~23 min in one process, ~15 min in two when the suite was smaller; 27 min 45 s
# in two for today's, image tests included). A test file stays in one
# process (--dist loadfile), so the hub a file's tests share is started once; files are handed out in the order
# tests/conftest.py sorts them, longest first (--no-loadscope-reorder: xdist would otherwise start with the files
# that hold the most tests, which are quick, and end with one process running the image builds alone).
TEST_WORKERS ?= 3

# The container images' tests (tests/images, marker `images`) are in: building both images from nothing took
# 12 min 48 s here (the base by debootstrap, then each image's dependencies from PyPI), once per machine; with the
# base and layers cached (/var/cache/profiler-workbench, podman's store) the image tests take ~4 min.
# TEST_SELECTION='-m "not images"' leaves them out.
TEST_SELECTION ?=

test: install chromium
	$(BIN)/python -m pytest -p xdist -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 $(TEST_SELECTION) $(PYTEST_ARGS)

test-images: install chromium
	$(BIN)/python -m pytest -p no:xdist -m images tests/images $(PYTEST_ARGS)

unit: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m "not hub and not browser and not postgres and not redis and not slow" \
	  -p xdist -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@

# Font Awesome for the dashboards' Voila template, served by each user's server, not a CDN; and plotly's basic
# bundle, which the dashboards' charts fetch from there (widgets/figure.py).
FONTAWESOME := user_server/jupyter_data/voila/templates/workbench/static/fontawesome
PLOTLY_BASIC := user_server/jupyter_data/voila/templates/workbench/static/plotly
# Beside it plotly's whole library, for the fig.show() figures on Voila's pages that the basic bundle cannot draw
# (the renderer in user_server/jupyter_data/labextensions/profiler-workbench-launcher): the plotly package's own
# copy, the plotly.js its figures are written for.
PLOTLY_WHOLE := $(PLOTLY_BASIC)/plotly.min.js

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(FONTAWESOME) && mkdir -p $(FONTAWESOME)
	cp -r node_modules/@fortawesome/fontawesome-free/css node_modules/@fortawesome/fontawesome-free/webfonts \
	  node_modules/@fortawesome/fontawesome-free/LICENSE.txt $(FONTAWESOME)/
	rm -rf $(PLOTLY_BASIC) && mkdir -p $(PLOTLY_BASIC)
	cp node_modules/plotly.js-basic-dist-min/plotly-basic.min.js node_modules/plotly.js-basic-dist-min/LICENSE \
	  $(PLOTLY_BASIC)/
	touch $@

# after the npm step, which empties the folder
install: $(PLOTLY_WHOLE)
$(PLOTLY_WHOLE): $(VENV)/.installed node_modules/.installed
	cp "$$($(BIN)/python -c 'import importlib.util, pathlib; \
	  print(pathlib.Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "plotly.min.js")')" $@

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The users' server and hub images (deploy/images), with podman as root. The first run makes a Debian base with
# debootstrap and caches it (/var/cache/profiler-workbench, podman's store); later runs reuse it and the layers.
images: install
	@for tool in podman runc debootstrap; do command -v $$tool >/dev/null || MISSING="$$MISSING $$tool"; done; \
	  if [ -n "$$MISSING" ]; then echo "Installing$$MISSING for the images"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$MISSING >/dev/null; fi
	$(BIN)/python deploy/images/build_images.py $(IMAGES_ARGS)
