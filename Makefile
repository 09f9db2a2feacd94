# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv when it is
# missing or older than requirements.txt / pyproject.toml.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/harp demo

# --durations: the slowest tests, printed by every run (CI's included), to keep `make test` under 12 minutes
test: lint
	$(VENV)/bin/python -m pytest -q --durations=15

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow"

# ruff (pinned): lint and formatting, configured in pyproject.toml; `make format` fixes what it can
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/hprm_throughput.py

clean-venv:
	rm -rf $(VENV)
