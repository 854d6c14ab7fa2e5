# prefect-tavus: every command a newcomer needs. `make help` lists them.
# The first target that needs the environment builds .venv from requirements.lock;
# later runs reuse it (rebuilt only when pyproject.toml or the lock changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Hermetic Prefect defaults for the demo and the tests: a project-local Prefect home
# (so a profile pointing at another server is not picked up by accident), and no
# telemetry, which would only log connection failures on a machine without network.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: help demo test e2e simulator bench bench-release lock clean

help:
	@echo "make demo       run wait_for_replica against the local Tavus simulator (no API key needed)"
	@echo "make test       run the test suite (real Prefect server + simulator over loopback)"
	@echo "make e2e        only the end-to-end tests (prefect server start, worker, prefect deploy)"
	@echo "make simulator  start the local Tavus simulator on 127.0.0.1:8765"
	@echo "make bench      run the benchmarks: batch waits, then waits that release their worker (tables)"
	@echo "make bench-release  only the release_worker benchmark (polling vs callbacks vs sweep)"
	@echo "make clean      remove .venv and .prefect"

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m prefect_tavus.flows.demo

test: $(STAMP)
	$(BIN)/python -m pytest

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests/e2e

simulator: $(STAMP)
	$(BIN)/python -m prefect_tavus.simulator --port 8765

bench: $(STAMP)
	$(BIN)/python -m benchmarks.batch_wait
	$(BIN)/python -m benchmarks.suspended_wait

bench-release: $(STAMP)
	$(BIN)/python -m benchmarks.suspended_wait

lock:
	rm -rf /tmp/prefect-tavus-lock && $(PYTHON) -m venv /tmp/prefect-tavus-lock
	/tmp/prefect-tavus-lock/bin/pip install --quiet -e '.[test]'
	{ echo "# Full, exact environment for prefect-tavus (what \`make\` installs into .venv)."; \
	  echo "# Regenerate: make lock  (after changing pins in pyproject.toml)"; \
	  /tmp/prefect-tavus-lock/bin/pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) .prefect
