# Two commands matter on a fresh machine (see README):
#   make demo   set up .venv with the package alone and run the main job on the embedded default
#   make test   set up .venv with the test extra (+ tools) and run pytest, ruff and mypy strict
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CHECKOV_VENV := .tools/checkov
# One stamp per install, so `make test` after `make demo` still installs the test extra.
PACKAGE := $(VENV)/.installed-package
TESTING := $(VENV)/.installed-test

.PHONY: demo test lint typecheck pytest bench bench-peers bench-quick clean setup soak-rotation \
	check-compiler

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The C passes of the scan (setup.py) are compiled in place by the editable install: a change
# to them installs again.
NATIVE := setup.py src/ivsecrets/scan/_runs.c

$(PACKAGE): pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TESTING): pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==3.3.30'
	touch $@

# `make test` builds and tests the scanner's C passes (setup.py; tests/scan/test_native.py fails
# where they were not built, so CI always exercises them): check for a C compiler and the Python
# headers first, and say how to install them. `make demo` and `pip install` need neither.
check-compiler:
	@inc="$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"; \
	cc="$${CC:-$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("CC") or "cc")')}"; \
	if ! printf '#include <Python.h>\nint main(void) { return 0; }\n' \
		| $$cc -I"$$inc" -x c -c -o /dev/null - >/dev/null 2>&1; then \
		echo "make test needs a C compiler and the Python headers (it builds and tests the"; \
		echo "scanner's C passes, src/ivsecrets/scan/_runs.c); '$$cc' could not compile with $$inc/Python.h."; \
		echo "Install them, then run make test again:"; \
		echo "  Debian/Ubuntu: sudo apt-get install gcc python3-dev"; \
		echo "  Fedora/RHEL:   sudo dnf install gcc python3-devel"; \
		echo "  Alpine:        apk add gcc musl-dev python3-dev"; \
		echo "  macOS:         xcode-select --install"; \
		exit 1; \
	fi

setup: check-compiler $(TESTING) $(CHECKOV_VENV)/bin/checkov

demo: $(PACKAGE)
	$(BIN)/python -m ivsecrets.demo

pytest: setup
	IVSECRETS_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -q

lint: $(TESTING)
	$(BIN)/ruff check src tests bench examples setup.py
	$(BIN)/ruff format --check src tests bench examples setup.py

typecheck: $(TESTING)
	$(BIN)/mypy --strict src/ivsecrets

test: check-compiler lint typecheck pytest

# The long run of the rotation proof (issue 11): the model-based test with
# IVSECRETS_SOAK_EXAMPLES x IVSECRETS_SOAK_STEPS steps per store (default 400 x 60), and 50 rounds
# of two `ivsecrets rotate` processes per store. Prints the figures (steps, faults injected).
soak-rotation: $(TESTING)
	IVSECRETS_SOAK=1 $(BIN)/pytest -q -s -p no:cacheprovider -o timeout=0 \
		tests/test_rotation_model.py tests/test_rotation_processes.py

bench: $(TESTING)
	$(BIN)/python bench/hot_path.py
	$(BIN)/python bench/verify_speed.py

# Every bench script with tiny counts (seconds; figures meaningless): what tests/test_bench.py runs.
bench-quick: $(TESTING)
	for script in bench/[!_]*.py; do IVSECRETS_BENCH_QUICK=1 $(BIN)/python $$script || exit 1; done

bench-peers: $(TESTING)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/peers.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache build
	find src -name '*.so' -delete
