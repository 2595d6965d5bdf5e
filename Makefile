# The book's two commands: `make book` builds the site, `make test` runs every test.
# Both create .venv when it is missing and install genai_lib with what they need: `make book` the
# book's extras only, `make test` the test extras too (transformers, diffusers, peft, playwright).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
# torch is installed first, pinned, so that pip takes the CPU wheel on machines that keep one on
# disk (our CI does) instead of resolving a multi-GB CUDA build. Elsewhere this is your platform's
# normal torch; override with e.g. `make book TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
BOOK_STAMP := $(VENV)/.genai-book-installed
STAMP  := $(VENV)/.genai-installed
NOTEBOOKS := $(shell find book -name '*.md' -not -path '*/_build/*' -exec grep -l '^jupytext:' {} +)
# Jupyter Book's execution cache is keyed by each notebook's code only; when the library changes,
# the cached outputs are stale, so the cache is dropped whenever this hash of genai_lib (its code and
# the weights it ships) changes.
LIB_HASH = $(shell cat pyproject.toml $$(find genai_lib -name '*.py' -o -name '*.safetensors' | sort) | sha256sum | cut -c1-16)

.PHONY: book test lint robust badges bench lab sync venv clean help

help:
	@echo "make book   build the site (_build/html) and print the page to open"
	@echo "make test   lint, unit tests, every notebook under nbval, the site build, browser tests"
	@echo "make lint   ruff check and ruff format --check (rules in pyproject.toml)"
	@echo "make robust every notebook under nbval with GENAI_SEED=1, and =2 on another CPU's kernels (NB=... for some)"
	@echo "make badges record the last make test's cost per notebook in book/compute.json (the pages' badges)"
	@echo "make bench  speed benchmarks (tests/benchmarks/*.py), printed as ratios on this machine"
	@echo "make lab    open JupyterLab on book/ (chapters open as notebooks through jupytext)"
	@echo "make sync   re-pair every book/**/*.md with its .ipynb after editing either"

venv: $(STAMP)

$(BOOK_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e ".[book]"
	touch $(BOOK_STAMP)

$(STAMP): $(BOOK_STAMP)
	$(PY) -m pip install -q -e ".[book,test]"
	touch $(STAMP)

book: $(BOOK_STAMP)
	@if [ "$$(cat _build/.lib-hash 2>/dev/null)" != "$(LIB_HASH)" ]; then rm -rf _build/.jupyter_cache; fi
	GENAI_PROGRESS=0 $(JB) build . --all -W --keep-going
	@echo $(LIB_HASH) > _build/.lib-hash
	@echo
	@echo "The book is built. Open: file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check

test: lint
	$(PY) -m pytest tests --ignore=tests/site
	GENAI_PROGRESS=0 $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 book  # its outputs are the site's: no bars
	@echo $(LIB_HASH) > _build/.lib-hash  # nbval has just re-executed (and re-cached) every notebook
	GENAI_PROGRESS=0 $(JB) build . --all -W --keep-going
	$(PY) -m pytest tests/site

# Not part of `make test` (two more passes over the book): every chapter must pass it before it is done.
robust: $(STAMP)
	$(PY) tests/robust.py $(NB)

# `make test` measures every notebook (_build/compute/notebooks.json) but changes no tracked file.
badges:
	$(PY) book/conftest.py

bench: $(STAMP)
	@for f in tests/benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lab: $(BOOK_STAMP)
	$(PY) -c "import jupyterlab, jupyterlab_myst" 2>/dev/null || $(PY) -m pip install -q -e ".[lab]"
	$(VENV)/bin/jupyter lab book $(if $(filter 0,$(shell id -u)),--allow-root,)

sync: $(BOOK_STAMP)
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS)

clean:
	rm -rf _build
