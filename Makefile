# Two commands matter on a fresh machine (see README):
#   make demo   set up .venv and run the main job on the embedded default
#   make test   set up .venv (+ tools) and run pytest, ruff and mypy strict
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CHECKOV_VENV := .tools/checkov

.PHONY: demo test lint typecheck pytest bench bench-peers clean setup soak-rotation

$(BIN)/ivsecrets: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==3.3.30'
	touch $@

setup: $(BIN)/ivsecrets $(CHECKOV_VENV)/bin/checkov

demo: $(BIN)/ivsecrets
	$(BIN)/python -m ivsecrets.demo

pytest: setup
	IVSECRETS_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -q

lint: $(BIN)/ivsecrets
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(BIN)/ivsecrets
	$(BIN)/mypy --strict src/ivsecrets

test: lint typecheck pytest

# The long run of the rotation proof (issue 11): the model-based test with
# IVSECRETS_SOAK_EXAMPLES x IVSECRETS_SOAK_STEPS steps per store (default 400 x 60), and 50 rounds
# of two `ivsecrets rotate` processes per store. Prints the figures (steps, faults injected).
soak-rotation: $(BIN)/ivsecrets
	IVSECRETS_SOAK=1 $(BIN)/pytest -q -s -p no:cacheprovider -o timeout=0 \
		tests/test_rotation_model.py tests/test_rotation_processes.py

bench: $(BIN)/ivsecrets
	$(BIN)/python bench/hot_path.py
	$(BIN)/python bench/verify_speed.py

bench-peers: $(BIN)/ivsecrets
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/peers.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
