# Leadladder's developer interface. `make run` and `make test` do all the set-up themselves.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/leadladder_bench
# As in production, tasks go through a broker: capture only writes its outbox row.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run serve test lint format worker bench migrations messages clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Leadladder needs $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python scripts/run_tests.py $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python scripts/check_translations.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install
	$(BIN)/python manage.py relay_outbox & relay=$$!; trap 'kill $$relay' EXIT INT TERM; \
	$(BIN)/celery -A config worker --beat --loglevel=INFO --concurrency=$${WORKER_CONCURRENCY:-2}

bench: install
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} $(BIN)/python scripts/ensure_database.py
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} $(BIN)/python manage.py migrate --no-input
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(BENCH_REDIS_URL)} \
		$(BIN)/python manage.py bench $(ARGS)

migrations: install
	$(BIN)/python manage.py makemigrations

messages: install
	$(BIN)/python manage.py makemessages -l nl --no-location --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
