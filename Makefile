# Sightline: `make run` sets up .venv and starts the app; `make test` sets up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench gpu-check demo-model demo-eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/sightline $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/sightline bench --model demo-shapes --images 20

gpu-check: $(VENV)/.installed
	$(BIN)/python tests/benchmarks/gpu_check.py $(ARGS)

demo-model: $(VENV)/.installed
	$(BIN)/python -m engine.demo.train_demo --out resources/models/demo-shapes.pt

demo-eval: $(VENV)/.installed
	$(BIN)/python -m engine.demo.evaluate --scenes 200

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
