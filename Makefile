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

# The one-process tests on two workers (pytest-xdist; a file's tests stay on one worker, so its fixtures
# are built once), each worker's torch on one thread, the fastest on this 2-core box; then the tests that
# start several processes, alone, since they need both cores. --durations: the slowest tests, printed by
# every run (CI's included), to keep `make test` under 12 minutes.
PYTEST_WORKERS ?= 2
PYTEST_ON_WORKERS := OMP_NUM_THREADS=1 $(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile
test: lint
	$(PYTEST_ON_WORKERS) -m "not multiprocess" --durations=15
	$(VENV)/bin/python -m pytest -q -m multiprocess --durations=5

test-fast: $(STAMP)
	$(PYTEST_ON_WORKERS) -m "not slow"

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
