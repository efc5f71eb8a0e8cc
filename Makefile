# Every target creates .venv (any Python 3.10 to 3.13) and installs the project into it
# when missing or when pyproject.toml / requirements.lock changed. PYTHON picks the
# newest supported python3.X that runs; set PYTHON=/path/to/python to choose.
SUPPORTED := 3.13 3.12 3.11 3.10
PYTHON ?= $(shell for v in $(SUPPORTED); do \
	python$$v -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13)' 2>/dev/null \
	&& { command -v python$$v; exit; }; done; command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: venv demo test test-fast test-platforms lock bench lint format clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13), "Python 3.10 to 3.13 is required, found " + sys.version.split()[0] + ": set PYTHON=/path/to/python3.X"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[grader,text,dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m course_lib.demo --out build/demo/layers
	$(BIN)/python -m autograder demo --out build/demo

# Two pytest-xdist workers; a module (or a test class) stays on one worker, so its shared
# fixtures (a catalog's audit, a zygote, a kernel) are built once; the longest scopes start
# first (tests/conftest.py, tests/scope_seconds.json). WORKERS=0 runs in-process.
WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder --durations=30

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Real installs in fresh venvs (Colab-like 3.13, each Python's `make venv`, the oldest
# stack): downloads from PyPI, ~15 min. Writes build/platforms/*.json.
test-platforms: $(STAMP)
	$(BIN)/python -m pytest tests/platforms --platforms

# Re-resolves requirements.lock (newest, every Python of the range) and
# requirements-oldest.lock (the lower bounds of pyproject.toml) with uv.
lock: $(STAMP)
	$(BIN)/python -m uv pip compile pyproject.toml --extra text --extra grader --extra dev \
		--universal --python-version 3.10 --no-header -q -o requirements.lock
	$(BIN)/python -m uv pip compile pyproject.toml --extra text --extra grader --extra dev \
		--resolution lowest-direct --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
		--no-header -q -o requirements-oldest.lock

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check course_lib autograder benchmarks tests

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format course_lib autograder benchmarks tests

clean:
	rm -rf build .pytest_cache
