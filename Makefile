# Tessera: `make run` serves https://localhost:8443, `make test` runs the whole suite.
# Needs only python3 (3.11+) and make; everything else comes from requirements.lock.
# `make lint` also checks the import contracts in pyproject.toml (import-linter).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8443
export PORT
export DJANGO_SETTINGS_MODULE ?= payments_site.settings.development
PIP_FLAGS := --disable-pip-version-check --no-input --quiet

.PHONY: run test lint bench bootstrap lock clean

bootstrap: $(STAMP)

# Installs come only from the lock: exact versions, every file checked against its hash.
$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip check
	@touch $@

.env:
	$(BIN)/python -m payments_site.devtools dotenv .env

.run/tls/localhost.crt: | $(STAMP)
	$(BIN)/python -m payments_site.devtools cert .run/tls

run: $(STAMP) .env .run/tls/localhost.crt
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py bootstrap_demo
	@echo "Serving https://localhost:$(PORT)/ (self-signed certificate for localhost)"
	$(BIN)/gunicorn payments_site.wsgi:application -c payments_site/gunicorn_conf.py \
		--bind 127.0.0.1:$(PORT) --certfile .run/tls/localhost.crt --keyfile .run/tls/localhost.key

test: $(STAMP)
	DJANGO_SETTINGS_MODULE=payments_site.settings.test $(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks (tests/bench/): figures as ratios to a baseline measured in the same run.
# BENCH_ARGS e.g. "vault --cards 1000"; DATABASE_URL selects PostgreSQL as for `make test`.
bench: $(STAMP)
	DJANGO_SETTINGS_MODULE=payments_site.settings.test ENV_FILE=/dev/null \
		$(BIN)/python -m tests.bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=payments_site.settings.test $(BIN)/mypy .
	$(BIN)/lint-imports --no-cache

# Regenerate the lock after editing pyproject.toml's dependencies (needs network to PyPI).
lock: $(STAMP)
	$(BIN)/python -m pip install $(PIP_FLAGS) uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .run .mypy_cache .ruff_cache .pytest_cache
