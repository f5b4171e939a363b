# The two commands of the README: `make demo` and `make test`. Each creates or updates the
# virtual environment .venv first, so nothing else is needed on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Where the shared videos and models are (used when present; the demo works without them).
VQL_SHARED ?= $(abspath ../shared)
export VQL_SHARED

.PHONY: demo test lint shell clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

# make demo VIDEO=clip.mp4 asks a video of yours; OFFLINE=1 never downloads the sample video.
demo: $(STAMP)
	$(BIN)/python examples/demo.py $(if $(OFFLINE),--offline) $(VIDEO)

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check vql udfs catalog tests examples bench
	$(BIN)/mypy
	$(BIN)/lint-imports

shell: $(STAMP)
	$(BIN)/vql

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
