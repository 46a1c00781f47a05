# Tessera: `make run` serves https://localhost:8443, `make test` runs the suite without the
# slow tests (real servers, workers, browsers); `make test-slow` runs those, `make test-all` both.
# Needs only python3 (3.11+) and make. `make run` installs what the app needs at run time
# (requirements.lock); `make test`, `lint`, `bench` and `bootstrap` add the development and
# test tools (requirements-dev.lock, a superset at the same versions). Both locked and hashed.
# `make lint` also checks the import contracts in pyproject.toml (import-linter).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PORT   ?= 8443
export PORT
export DJANGO_SETTINGS_MODULE ?= payments_site.settings.development
# No --quiet: a first install takes a while, and pip's lines show where it is.
PIP_FLAGS := --disable-pip-version-check --no-input --progress-bar on

.PHONY: run test test-slow test-all lint bench bootstrap lock clean

bootstrap: $(DEV_STAMP)

# Installs come only from the locks: exact versions, every file checked against its hash.
$(RUN_STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "== Installing the run-time dependencies (requirements.lock) into $(VENV)/"
	$(BIN)/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip check
	@touch $@

$(DEV_STAMP): requirements-dev.lock $(RUN_STAMP)
	@echo "== Adding the development and test tools (requirements-dev.lock)"
	$(BIN)/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip check
	@touch $@

.env:
	$(BIN)/python -m payments_site.devtools dotenv .env

.run/tls/localhost.crt: | $(RUN_STAMP)
	$(BIN)/python -m payments_site.devtools cert .run/tls

run: $(RUN_STAMP) .env .run/tls/localhost.crt
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py bootstrap_demo
	@echo "Serving https://localhost:$(PORT)/ (self-signed certificate for localhost)"
	$(BIN)/gunicorn payments_site.wsgi:application -c payments_site/gunicorn_conf.py \
		--bind 127.0.0.1:$(PORT) --certfile .run/tls/localhost.crt --keyfile .run/tls/localhost.key

PYTEST := DJANGO_SETTINGS_MODULE=payments_site.settings.test $(BIN)/pytest

test: $(DEV_STAMP)
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

test-slow: $(DEV_STAMP)
	$(PYTEST) -m slow $(PYTEST_ARGS)

test-all: $(DEV_STAMP)
	$(PYTEST) $(PYTEST_ARGS)

# Benchmarks (tests/bench/): figures as ratios to a baseline measured in the same run.
# BENCH_ARGS e.g. "vault --cards 1000"; DATABASE_URL selects PostgreSQL as for `make test`.
bench: $(DEV_STAMP)
	DJANGO_SETTINGS_MODULE=payments_site.settings.test ENV_FILE=/dev/null \
		$(BIN)/python -m tests.bench $(BENCH_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=payments_site.settings.test $(BIN)/mypy .
	$(BIN)/lint-imports --no-cache

# Regenerate both locks after editing pyproject.toml's dependencies (needs network to PyPI).
# The run-time lock is resolved within the development one, so both pin the same versions.
lock: $(DEV_STAMP)
	$(BIN)/python -m pip install $(PIP_FLAGS) uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal \
		--python-version 3.11 -c requirements-dev.lock -o requirements.lock

clean:
	rm -rf $(VENV) .run .mypy_cache .ruff_cache .pytest_cache
