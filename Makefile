# Two commands: `make run` (try the site) and `make test` (run the suite). See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.requirements.stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install run serve migrate demo test e2e worker beat lint format vendor clean

help:
	@echo "make run     - install, migrate, load codebook and demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test    - install, then run the test suite on SQLite (no browser tests)"
	@echo "make e2e     - browser tests (Playwright + Chromium)"
	@echo "make worker  - Celery worker (needs REDIS_URL)"
	@echo "make beat    - Celery beat scheduler (needs REDIS_URL)"
	@echo "make lint    - ruff, migrations check, import layers"
	@echo "make vendor  - copy Bootstrap and htmx from vendor/node_modules into static/vendor"

$(PY):
	$(PYTHON_SYS) -m venv $(VENV)

# Reinstall only when a requirements file changed.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=1 $(PY) manage.py migrate --noinput

demo: migrate
	@if DEBUG=1 $(PY) manage.py help load_codebook >/dev/null 2>&1; then \
		DEBUG=1 $(PY) manage.py load_codebook; \
	else \
		echo "load_codebook is not available yet: skipping the codebook"; \
	fi
	DEBUG=1 $(PY) manage.py load_demo

run: demo
	@if [ -n "$$REDIS_URL" ]; then \
		echo "REDIS_URL is set: starting a Celery worker beside the web server"; \
		DEBUG=1 $(VENV)/bin/celery -A infusioncenter worker --loglevel=INFO --concurrency=2 & \
		worker=$$!; trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
		DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT); \
	else \
		DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT); \
	fi

test: install
	DEBUG=1 DATABASE_URL="$(TEST_DATABASE_URL)" $(VENV)/bin/pytest -m "not e2e" $(PYTEST_ARGS)

e2e: install
	DEBUG=1 $(VENV)/bin/pytest -m e2e $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A infusioncenter worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A infusioncenter beat --loglevel=INFO --schedule=var/celerybeat-schedule

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Bootstrap and htmx come from npm with a lockfile (vendor/package-lock.json); the copied dist
# files are committed, so running the site never needs npm.
vendor:
	cd vendor && npm ci --no-audit --no-fund
	rm -rf static/vendor/bootstrap static/vendor/htmx
	mkdir -p static/vendor/bootstrap/css static/vendor/bootstrap/js static/vendor/htmx
	cp vendor/node_modules/bootstrap/dist/css/bootstrap.min.css vendor/node_modules/bootstrap/dist/css/bootstrap.min.css.map static/vendor/bootstrap/css/
	cp vendor/node_modules/bootstrap/dist/js/bootstrap.bundle.min.js vendor/node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map static/vendor/bootstrap/js/
	cp vendor/node_modules/bootstrap/LICENSE static/vendor/bootstrap/LICENSE
	cp vendor/node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/
	cp vendor/node_modules/htmx.org/LICENSE static/vendor/htmx/LICENSE

clean:
	rm -rf staticfiles test-output .pytest_cache .ruff_cache
