# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

# Tests, benchmarks and lint run on real PostgreSQL and Redis.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

# Gossip, mingle and event heartbeats are off: the portal uses none of them, and the
# gossip consumer's channel is what kills a worker when Redis restarts
# (AttributeError: 'NoneType' object has no attribute 'hostname'; see docs/operations.md).
WORKER_FLAGS := --without-gossip --without-mingle --without-heartbeat

.PHONY: run test bench bench-load lint assets venv migrate demo worker clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Front-end libraries come from npm and are copied into static/vendor (not committed).
# bin/vendor_assets.sh is the one list of files, shared with the Dockerfile.
static/vendor/.installed: package.json package-lock.json bin/vendor_assets.sh
	npm ci --no-audit --no-fund --loglevel=error
	bin/vendor_assets.sh
	touch $@

assets: static/vendor/.installed

# Zero-setup: SQLite and in-process tasks unless DATABASE_URL / REDIS_URL are set. With
# REDIS_URL, one worker without -Q consumes all four queues (default, import, compute,
# export: CELERY_TASK_QUEUES in portal/settings.py).
run: venv assets
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py load_demo --if-empty
	@if [ -n "$$REDIS_URL" ]; then \
		echo "REDIS_URL is set: starting a Celery worker and beat beside the server (restarted if they exit)"; \
		DEBUG=true $(PY) bin/keep_running.py $(VENV)/bin/celery -A portal worker $(WORKER_FLAGS) -l info -c 2 & W=$$!; \
		DEBUG=true $(PY) bin/keep_running.py $(VENV)/bin/celery -A portal beat -l info -s /tmp/portal-celerybeat-schedule & B=$$!; \
		trap 'kill $$W $$B 2>/dev/null' EXIT INT TERM; \
	fi; \
	echo "Open http://127.0.0.1:8000/ and log in with one of the accounts above."; \
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(PY) manage.py check
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

test: venv assets
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bin/check_services.py
	$(MAKE) --no-print-directory lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -m "not smoke and not faults" $(PYTEST_ARGS)
	@echo "--- fault suite: its own PostgreSQL and Redis; worker killed, PostgreSQL and Redis restarted under every job kind"
	$(PY) tests/faults/run.py $(FAULTS_ARGS)
	@echo "--- smoke run of the demo on SQLite with in-process tasks"
	REDIS_URL= DATABASE_URL=sqlite:///$(CURDIR)/.smoke.sqlite3 CELERY_EAGER=true $(PY) -m pytest -m smoke -p no:randomly $(PYTEST_ARGS)

# Every suite at BENCH_N (1,000,000 by default), each figure beside its floor from the same
# run; the province end to end (suite e2e) last, its stages also in bench/e2e_results.json.
# BENCH_ARGS e.g. "e2e --json /tmp/e2e.json" or "rules disbursements" (python -m bench -h).
bench: venv assets
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bin/check_services.py
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m bench --json bench/e2e_results.json $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-load

# The portal as deployed (gunicorn, Celery, DEBUG=0 build): one officer alone, 50/100/200 users and a
# login storm, ending with the targets of issue #16 as PASS/FAIL; about 5 minutes on a quiet machine,
# bounded. LOAD_ARGS e.g. "--seconds 300" or "--levels 50,100,150,200" (python -m bench.load -h).
bench-load: venv assets
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bin/check_services.py
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles db.sqlite3 .smoke.sqlite3
