# The two commands of the README: `make demo` (the main job) and `make test`.
# Both create .venv, install the pinned CPU build of torch first, then skmm with
# its extras (the pin is repeated so that no later step can upgrade torch).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
STAMP := $(VENV)/.skmm-installed
OUTPUT ?= skmm_output

.PHONY: demo test install lint benchmark docs clean

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

benchmark: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only -p no:randomly

# The documentation (Sphinx + numpydoc), warnings as errors: docs/_build/html/index.html
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(PY) -m ruff check skmm tests benchmarks examples

clean:
	rm -rf $(VENV) $(OUTPUT) .pytest_cache .benchmarks docs/_build docs/generated
