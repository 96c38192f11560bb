# The two commands of the README: `make demo` (the main job) and `make test`.
# Both create .venv, install the pinned CPU build of torch first, then skmm with
# its extras (the pin is repeated so that no later step can upgrade torch).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
STAMP := $(VENV)/.skmm-installed
OUTPUT ?= skmm_output

.PHONY: demo test test-min install lint benchmark docs clean FORCE

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[all]" "$(TORCH)"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m skmm demo --output $(OUTPUT)

test: $(STAMP)
	$(PY) -m ruff check skmm tests benchmarks examples
	$(PY) -m pytest

# The declared floors hold: .venv-min gets the same pinned torch, then skmm with every
# other dependency at exactly its floor (requirements-min.txt, generated from
# pyproject.toml: each '>=X' becomes '==X'), and runs the linter and the tests there.
# PYTEST_MIN_ARGS narrows the run (e.g. PYTEST_MIN_ARGS='-m "not slow"').
VENV_MIN := .venv-min
PY_MIN := $(VENV_MIN)/bin/python
STAMP_MIN := $(VENV_MIN)/.skmm-installed
MIN_REQS := requirements-min.txt
PYTEST_MIN_ARGS ?=

# Rewritten only when its text changes, so that the stamp below stays valid.
$(MIN_REQS): pyproject.toml .ci/min_requirements.py FORCE
	$(PYTHON) .ci/min_requirements.py > $@.tmp
	if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(STAMP_MIN): $(MIN_REQS)
	$(PYTHON) -m venv $(VENV_MIN)
	$(PY_MIN) -m pip install --quiet "$(TORCH)"
	$(PY_MIN) -m pip install --quiet -c $(MIN_REQS) -e ".[datasets,plot,dev]" "$(TORCH)"
	touch $(STAMP_MIN)

test-min: $(STAMP_MIN)
	$(PY_MIN) -m ruff check skmm tests benchmarks examples
	$(PY_MIN) -m pytest $(PYTEST_MIN_ARGS)

FORCE:

benchmark: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only -p no:randomly

# The documentation (Sphinx + numpydoc), warnings as errors: docs/_build/html/index.html
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(PY) -m ruff check skmm tests benchmarks examples

clean:
	rm -rf $(VENV) $(VENV_MIN) $(OUTPUT) .pytest_cache .benchmarks docs/_build docs/generated
