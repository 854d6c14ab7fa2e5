# prefect-tavus: every command a newcomer needs. `make help` lists them.
# The first target that needs the environment builds .venv from requirements.lock;
# later runs reuse it (rebuilt only when pyproject.toml or the lock changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The lowest Prefect that pyproject.toml declares, in a venv of its own: `make test-lowest`
# runs the whole suite there (CI runs it as well as `make test`, see .ci/run).
LOWEST_LOCK  := .ci/requirements-lowest.lock
LOWEST_VENV  := .venv-lowest
LOWEST_BIN   := $(LOWEST_VENV)/bin
LOWEST_STAMP := $(LOWEST_VENV)/.installed
LOWEST_HOME  := $(CURDIR)/.prefect-lowest
LOWEST_PREFECT = $(shell sed -n 's/.*"prefect>=\([0-9][0-9.]*\).*/\1/p' pyproject.toml | head -n 1)
# Held back in the lowest lock only, because the lowest Prefect does not cap them: FastAPI
# >= 0.155 breaks Prefect 3.8.8's server at import, and 0.154 answers 422 to its artifact queries.
LOWEST_HOLDS := fastapi==0.140.13

# `make lock` / `make lock-lowest` resolve in this throw-away venv and write these files.
LOCK_VENV       := /tmp/prefect-tavus-lock
LOCK_FILE       ?= requirements.lock
LOWEST_LOCK_OUT ?= $(LOWEST_LOCK)

PIP_INSTALL := pip install --quiet --disable-pip-version-check
# Prints which Prefect (and FastAPI) a target runs on; an argument names the target.
VERSIONS := import sys; from importlib.metadata import version as v; \
	print("==> make %s: Prefect %s, FastAPI %s, Python %s" \
	      % (sys.argv[1], v("prefect"), v("fastapi"), sys.version.split()[0]), flush=True)

# Hermetic Prefect defaults for the demo and the tests: a project-local Prefect home
# (so a profile pointing at another server is not picked up by accident), and no
# telemetry, which would only log connection failures on a machine without network.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: help demo test test-quick test-lowest check docs docs-serve e2e simulator bench bench-release bench-burst bench-video-polling bench-videos lock lock-lowest clean

help:
	@echo "make demo           train a replica, generate videos with it, print the table: local simulator, no API key"
	@echo "make test           the whole suite, both databases: 1,039 tests, $(TEST_WORKERS) workers side by side (12 min on 2 cores)"
	@echo "make test-quick     the edit loop: unit, simulator, callbacks, integration, plugin (991 tests; no e2e, packaging or demo; 3.5 min)"
	@echo "make test-lowest    the suite on the lowest Prefect declared (.venv-lowest, $(LOWEST_LOCK)), e2e on SQLite only (1,023 tests)"
	@echo "make check          ruff (lint and format) and mypy over the package (strict on core/)"
	@echo "make e2e            only the end-to-end tests (prefect server start, worker, prefect deploy)"
	@echo "make simulator      start the local Tavus simulator on 127.0.0.1:8765"
	@echo "make bench          run the benchmarks: batch waits, then waits that release their worker (tables)"
	@echo "make bench-release  only the release_worker benchmark (polling vs callbacks vs sweep)"
	@echo "make bench-burst    1,000 suspended waits resumed at once by callbacks, SQLite then PostgreSQL (BURST_ARGS=...)"
	@echo "make bench-video-polling  one poll round over N videos: GETs vs list pages vs auto (in-process, < 1 min)"
	@echo "make bench-videos   1,000 videos: polling vs release_worker + callbacks vs callbacks lost + sweep (~12 min)"
	@echo "make lock           re-resolve requirements.lock (newest versions within pyproject.toml's ranges)"
	@echo "make lock-lowest    re-resolve $(LOWEST_LOCK) (the lowest Prefect declared)"
	@echo "make docs           build the documentation site into site/ (mkdocs build --strict: a broken link fails)"
	@echo "make docs-serve     serve the documentation on http://127.0.0.1:8000, rebuilt on every save"
	@echo "make clean          remove the venvs and Prefect homes"

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) -r requirements.lock
	$(BIN)/$(PIP_INSTALL) --no-deps -e .
	$(BIN)/pip check
	@touch $(STAMP)

$(LOWEST_STAMP): pyproject.toml $(LOWEST_LOCK)
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_BIN)/$(PIP_INSTALL) -r $(LOWEST_LOCK)
	$(LOWEST_BIN)/$(PIP_INSTALL) --no-deps -e .
	$(LOWEST_BIN)/pip check
	@touch $(LOWEST_STAMP)

demo: $(STAMP)
	$(BIN)/python -m prefect_tavus.flows.demo

# The tests side by side (pytest-xdist): TEST_WORKERS processes, more than the 2 cores CI has,
# because most of a test's time is spent waiting on a server, a worker or a simulated training.
# Measured on 2 idle cores: make test 11 min 50 s in pytest (1,036 passed, 3 skipped; 12 min 47 s
# from a fresh clone, the venv built first; 21 CPU-minutes), make test-quick 3 min 31 s (989
# tests, 5.6 CPU-minutes: CPU-bound, each worker starts its own Prefect test server).
# Serially the suite took 33 min 44 s on CI (52 min 53 s on a machine at load 10).
# --dist loadgroup keeps the tests that share a module-scoped fixture (an e2e stack per
# database, a Prefect server, the built wheel) on one worker: tests/_xdist.py groups them,
# and puts the longest groups first (--no-loadscope-reorder keeps that order).
TEST_WORKERS ?= 4
XDIST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder
# The edit loop: everything but the end-to-end stacks, the wheel's venvs and the tests marked
# slow (the whole demo program, twice); make test runs them all.
QUICK_SKIP := --ignore=tests/e2e --ignore=tests/packaging -m "not slow"
# make test-lowest leaves out the e2e tests' PostgreSQL runs (the `postgres` marker, which
# tests/conftest.py gives every test of the e2e stack on PostgreSQL): they differ from the
# SQLite runs only by the database, which make test covers on the newest Prefect.
# `make test-lowest LOWEST_MARKS=` runs them too.
LOWEST_MARKS ?= not postgres

test: $(STAMP)
	@$(BIN)/python -c '$(VERSIONS)' test
	$(BIN)/python -m pytest $(XDIST) --durations=15

test-quick: $(STAMP)
	@$(BIN)/python -c '$(VERSIONS)' test-quick
	$(BIN)/python -m pytest $(XDIST) --durations=10 $(QUICK_SKIP)

# Its own Prefect home: a database migrated by a newer Prefect cannot be opened by an older one.
# The packaging tests install the wheel into a venv holding the lowest lock's Prefect.
test-lowest: $(LOWEST_STAMP)
	@$(LOWEST_BIN)/python -c '$(VERSIONS)' test-lowest
	PREFECT_HOME=$(LOWEST_HOME) WHEEL_TEST_BASE_LOCK=$(LOWEST_LOCK) $(LOWEST_BIN)/python -m pytest \
		$(XDIST) --durations=15 $(if $(LOWEST_MARKS),-m "$(LOWEST_MARKS)")

# The package as Python sees it (src/prefect_tavus, flows/ tasks/ blocks/ through its links),
# plus the tests and benchmarks for ruff. mypy's settings are in pyproject.toml.
LINT_PATHS := src flows tasks blocks tests benchmarks
check: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

e2e: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) --durations=15 -m e2e tests/e2e

simulator: $(STAMP)
	$(BIN)/python -m prefect_tavus.simulator --port 8765

bench: $(STAMP)
	$(BIN)/python -m benchmarks.batch_wait
	$(BIN)/python -m benchmarks.suspended_wait

bench-release: $(STAMP)
	$(BIN)/python -m benchmarks.suspended_wait

# Not part of `make bench`: about 4 CPU-seconds per resumed flow-run life, so N=1,000 on
# both databases takes over an hour on 2 cores. BURST_ARGS="-n 250" for a shorter run.
BURST_ARGS ?=
bench-burst: $(STAMP)
	$(BIN)/python -m benchmarks.resume_burst $(BURST_ARGS)

bench-video-polling: $(STAMP)
	$(BIN)/python -m benchmarks.video_polling

# A deployed stack (prefect server start, process worker, prefect deploy, the callback
# receiver): one wait-for-videos run on 1,000 videos per scenario. VIDEO_BENCH_ARGS=... to vary it.
VIDEO_BENCH_ARGS ?=
bench-videos: $(STAMP)
	$(BIN)/python -m benchmarks.video_batch $(VIDEO_BENCH_ARGS)

# The documentation site: mkdocs.yml, docs/, the API reference from the package's docstrings.
# --strict turns a broken link, anchor or reference into a failure. NO_MKDOCS_2_WARNING
# silences only mkdocs-material's banner about its end of life (May 2027).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/$(PIP_INSTALL) -e '.[test,dev,docs]'
	$(LOCK_VENV)/bin/pip check
	{ echo "# Full, exact environment for prefect-tavus (what \`make\` installs into .venv)."; \
	  echo "# Regenerate: make lock  (after changing ranges in pyproject.toml)"; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable; } > $(LOCK_FILE).tmp
	mv $(LOCK_FILE).tmp $(LOCK_FILE)
	@$(LOCK_VENV)/bin/python -c '$(VERSIONS)' lock

lock-lowest:
	@test -n "$(LOWEST_PREFECT)" || { echo "no prefect>= lower bound found in pyproject.toml" >&2; exit 1; }
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/$(PIP_INSTALL) -e '.[test]' 'prefect==$(LOWEST_PREFECT)' $(LOWEST_HOLDS)
	$(LOCK_VENV)/bin/pip check
	{ echo "# The lowest Prefect prefect-tavus declares (pyproject.toml), as CI tests it: make test-lowest"; \
	  echo "# (run by .ci/run) installs this, then the package with --no-deps, and runs the suite again."; \
	  echo "# Regenerate: make lock-lowest. Held back here only, as the lowest Prefect does not cap"; \
	  echo "# them (the Makefile's LOWEST_HOLDS says why): $(LOWEST_HOLDS)"; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable; } > $(LOWEST_LOCK_OUT).tmp
	mv $(LOWEST_LOCK_OUT).tmp $(LOWEST_LOCK_OUT)
	@$(LOCK_VENV)/bin/python -c '$(VERSIONS)' lock-lowest

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .prefect $(LOWEST_HOME)
