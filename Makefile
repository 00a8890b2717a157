# Two commands do everything from a fresh clone:
#   make run    the project's main job: the local rehearsal (docs/rehearsal.md)
#   make test   lint + the whole test suite
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  ?= dev

.PHONY: run test lint haproxy preview policy-check bench mutation clean run-migrations k6-check

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# The local rehearsal: a canary release that promotes with zero failed requests, then a faulty
# release rolled back automatically, behind a real HAProxy under load. No AWS account needed.
run: $(STAMP) haproxy
	$(PY) -m zero_downtime.rehearsal

# Expand/contract releases under write load on a throwaway local PostgreSQL (docs/migrations.md).
run-migrations: $(STAMP) haproxy
	$(PY) -m zero_downtime.rehearsal.migrations

preview: $(STAMP)
	$(PY) -m zero_downtime.offline.preview $(STACK)

# The local rehearsal and its tests need HAProxy: installed when missing and possible, else explained.
haproxy:
	bash scripts/ensure-haproxy

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# One xdist worker per core, and at least 4: the rehearsal modules mostly wait (bakes, drains), so
# more workers than cores overlap them (docs/DEVELOPING.md, "Commands"). --dist loadscope keeps a
# module on one worker, so its module-scoped fixtures (e.g. the one full rehearsal) run once.
# `pytest tests/<area>` alone runs serially.
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -lt 4 ] && n=4; echo $$n)
test: lint haproxy
	$(PY) -m pytest -n $(WORKERS) --dist loadscope

# loadtest/k6/release.js under a real k6 against the local stack (docs/load-testing.md); not part of
# `make test`: k6 is an external tool, never a dependency. K6=/path/to/k6, else k6 on PATH, else it skips.
k6-check: $(STAMP) haproxy
	$(PY) scripts/k6_check.py $(if $(K6),--k6 $(K6))

# CrossGuard pack over every Pulumi.<stack>.yaml, offline (no CLI, no credentials).
policy-check: $(STAMP)
	$(PY) -m zero_downtime.policies.offline_check --all

bench: $(STAMP)
	$(PY) bench/program_evaluation.py
	$(PY) bench/rollback_latency.py

# Mutation testing of the decision core (mutmut; not part of `make test`, tens of minutes on two cores).
# MUTANTS='zero_downtime.driver.core.plan*' narrows it to one module; see docs/DEVELOPING.md.
mutation: $(STAMP)
	$(PY) scripts/mutation.py $(MUTANTS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build/mutation mutants
