# opsrel developer entry points. `make run` and `make test` each set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test dev clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The headless main job: the first week of January 2013, recorded in the ops schema.
run: $(STAMP)
	$(BIN)/opsrel run --from 2013-01-01 --to 2013-01-07

# The test suite, against SQLite and this machine's PostgreSQL (started if it is down), in two
# worker processes (pytest-xdist; most tests wait on subprocesses and the database). Serially:
# $(BIN)/pytest -q -n 0. The layering contracts (pyproject.toml, import-linter) are checked first.
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	bash scripts/ensure-postgres.sh
	$(BIN)/pytest -q -n 2 --dist loadgroup --durations=25

# The Dagster UI (webserver + daemon) on http://127.0.0.1:3000 with the embedded instance.
dev: $(STAMP)
	mkdir -p .opsrel/dagster_home
	test -f .opsrel/dagster_home/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > .opsrel/dagster_home/dagster.yaml
	$(BIN)/opsrel db upgrade
	DAGSTER_HOME=$(CURDIR)/.opsrel/dagster_home $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf .opsrel
