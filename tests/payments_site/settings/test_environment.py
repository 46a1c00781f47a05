"""Every environment variable is validated at start, generated from the one table
(``payments_site/settings/variables.py``); ``.env.example`` loads as written through the
project's own loader.

The settings modules are imported afresh in this process for each case (they only read the
environment), so the whole table runs in seconds; a few cases also go through ``manage.py`` in a
subprocess to show the operator's view: one line, no traceback.
"""

from __future__ import annotations

import importlib
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments_site.settings.environment import parse_dotenv
from payments_site.settings.variables import VARIABLES, Variable
from tests.payments_site.test_settings import KMS_ENV, production_env
from tests.support import servers
from tests.support.clone import fresh_clone, newcomer_env
from tests.support.servers import ROOT

PACKAGE = "payments_site.settings"
GUNICORN_CONF = "payments_site.gunicorn_conf"
ENV_EXAMPLE = ROOT / ".env.example"
GOOD_SECRET = secrets.token_urlsafe(50)
# In .env.example, "#NAME=value" (no space after "#") is a production-only line.
PRODUCTION_LINE = re.compile(r"^#(?=[A-Z][A-Z0-9_]*=)", re.M)

# Each way the code starts, with an environment it starts cleanly in.
ENTRY_POINTS: dict[str, dict[str, str]] = {
    "development": {"ENV_FILE": "/dev/null", "SECRET_KEY": GOOD_SECRET},
    "test": {"ENV_FILE": "/dev/null", "SECRET_KEY": GOOD_SECRET},
    "production": {**production_env(), **KMS_ENV},
    "gunicorn": {"ENV_FILE": "/dev/null"},
}


def _drop(prefixes: tuple[str, ...]) -> dict[str, ModuleType]:
    gone = {n: m for n, m in sys.modules.items() if n.startswith(prefixes) or n in prefixes}
    for name in gone:
        del sys.modules[name]
    return gone


@contextmanager
def fresh_environment(environ: dict[str, str]) -> Iterator[None]:
    """Run with exactly ``environ`` and fresh settings modules; restore both afterwards."""
    import payments_site

    saved_environ = dict(os.environ)
    saved_modules = _drop((PACKAGE, f"{PACKAGE}.", GUNICORN_CONF))
    os.environ.clear()
    os.environ.update({"PATH": saved_environ.get("PATH", "/usr/bin:/bin"), **environ})
    try:
        yield
    finally:
        _drop((PACKAGE, f"{PACKAGE}.", GUNICORN_CONF))
        sys.modules.update(saved_modules)
        payments_site.settings = saved_modules[PACKAGE]  # type: ignore[attr-defined]
        os.environ.clear()
        os.environ.update(saved_environ)


@dataclass
class Start:
    module: ModuleType | None
    error: str | None
    reads: dict[str, str]


def start(entry: str, overrides: dict[str, str] | None = None) -> Start:
    """Import ``entry``'s settings (or gunicorn's config) as a process starting would."""
    environ = {**ENTRY_POINTS[entry], **(overrides or {})}
    with fresh_environment(environ):
        name = GUNICORN_CONF if entry == "gunicorn" else f"{PACKAGE}.{entry}"
        module = error = None
        try:
            module = importlib.import_module(name)
        except ImproperlyConfigured as exc:
            error = str(exc)
        except SystemExit as exc:  # gunicorn's config prints its line and exits
            error = f"exit {exc.code}"
        environment = sys.modules.get(f"{PACKAGE}.environment")
        reads = dict(environment.env.reads) if environment else {}
    return Start(module, error, reads)


READS = {entry: start(entry).reads for entry in ENTRY_POINTS}


def bad_values(name: str, rule: Variable) -> list[str]:
    """Wrong values derived from the rule, plus the table's own."""
    values = list(rule.bad)
    if rule.kind == "int":
        values += ["abc", "1.5"]
    if rule.kind == "float":
        values += ["abc", "nan"]
    if rule.kind == "bool":
        values += ["maybe"]
    if rule.choices:
        values += ["bogus", "1"]
    if rule.minimum is not None:
        values.append(f"{rule.minimum - 1:g}")
    if rule.maximum is not None:
        values.append(f"{rule.maximum + 1:g}")
    if (rule.pattern and rule.pattern not in {".+", r"\S+"}) or rule.kind == "db":
        values.append("two words" if rule.kind != "list" else "ok,two words")
    if name == "PROMETHEUS_MULTIPROC_DIR":
        values.append("/nonexistent/metrics")
    return values


CASES = [
    pytest.param(name, value, entry, id=f"{name}={value}@{entry}")
    for name, rule in VARIABLES.items()
    for value in bad_values(name, rule)
    for entry, reads in READS.items()
    if name in reads
]


# --- the table, the code and .env.example agree ---------------------------------------------


def test_every_variable_read_is_in_the_table_with_its_kind() -> None:
    read = {name: kind for reads in READS.values() for name, kind in reads.items()}

    unknown = sorted(set(read) - set(VARIABLES))
    assert unknown == [], f"add these to payments_site/settings/variables.py: {unknown}"
    assert {name: VARIABLES[name].kind for name in read} == read


def test_every_table_variable_is_read_somewhere() -> None:
    read = {name for reads in READS.values() for name in reads}

    assert sorted(set(VARIABLES) - read) == []


def production_lines_uncommented(text: str) -> str:
    """``.env.example`` with its production lines (``#NAME=value``) turned on."""
    return PRODUCTION_LINE.sub("", text)


def test_env_example_names_every_variable_but_internal_ones() -> None:
    example = parse_dotenv(production_lines_uncommented(ENV_EXAMPLE.read_text()))

    documented = {name for name, rule in VARIABLES.items() if not rule.internal}
    assert set(example) - {"DJANGO_SETTINGS_MODULE"} == documented


def test_every_variable_has_a_generated_wrong_value_unless_it_takes_any_text() -> None:
    untestable = {name for name, rule in VARIABLES.items() if not bad_values(name, rule)}

    assert untestable == {
        name
        for name, rule in VARIABLES.items()
        if rule.kind == "str" and rule.pattern in {".+", r"\S+"} and not rule.choices
    } - {"PROMETHEUS_MULTIPROC_DIR"}


# --- .env.example loads as written ----------------------------------------------------------


def test_env_example_values_are_read_without_their_comments() -> None:
    values = parse_dotenv(ENV_EXAMPLE.read_text())

    assert values["DB_CONN_MAX_AGE"] == "600"
    assert values["SECRET_KEY"] == ""
    assert values["METRICS_BEARER_TOKEN"] == ""
    assert values["CARD_JWT_LIFETIME_SECONDS"] == "120"
    assert [name for name, value in values.items() if "#" in value or value != value.strip()] == []


def test_env_example_as_written_is_a_development_configuration() -> None:
    """Production-shaped values (hosts, a database server, KMS) are commented out, so that
    `cp .env.example .env && make run` serves on this machine."""
    values = parse_dotenv(ENV_EXAMPLE.read_text())

    production_only = {"ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "KEYS_BACKEND"}
    assert production_only.isdisjoint(values)
    with fresh_environment({"ENV_FILE": str(ENV_EXAMPLE), "SECRET_KEY": GOOD_SECRET}):
        settings = importlib.import_module(f"{PACKAGE}.development")

    assert settings.ALLOWED_HOSTS == ["localhost", "127.0.0.1", "[::1]"]
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings.KEYS_BACKEND_NAME == "local"
    assert settings.LOG_FORMAT == "console"
    assert settings.PUBLIC_ORIGIN == "https://localhost:8443"


def test_production_refuses_env_example_as_written() -> None:
    """Its production lines still commented, the example is no production configuration."""
    with (
        fresh_environment({"ENV_FILE": str(ENV_EXAMPLE)}),
        pytest.raises(ImproperlyConfigured) as refused,
    ):
        importlib.import_module(f"{PACKAGE}.production")

    assert str(refused.value) == (
        "Missing required environment variables for production: "
        "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, KEYS_BACKEND"
    )


def test_production_refuses_a_weak_secret_key(tmp_path: Path) -> None:
    example = tmp_path / "production.env"
    example.write_text(production_lines_uncommented(ENV_EXAMPLE.read_text()))

    with (
        fresh_environment({"ENV_FILE": str(example), "SECRET_KEY": "changeme"}),
        pytest.raises(ImproperlyConfigured) as refused,
    ):
        importlib.import_module(f"{PACKAGE}.production")

    assert str(refused.value).startswith("SECRET_KEY=<hidden>: not in the allowed form;")
    assert "changeme" not in str(refused.value)


def test_production_starts_from_env_example_with_its_production_lines_and_a_secret(
    tmp_path: Path,
) -> None:
    example = tmp_path / "production.env"
    example.write_text(production_lines_uncommented(ENV_EXAMPLE.read_text()))
    secrets_only = {"ENV_FILE": str(example), "SECRET_KEY": GOOD_SECRET}
    with fresh_environment(secrets_only):
        settings = importlib.import_module(f"{PACKAGE}.production")
        multiproc_left = "PROMETHEUS_MULTIPROC_DIR" in os.environ

    assert settings.ALLOWED_HOSTS == ["pay.example.com"]
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 600
    assert settings.DATABASES["default"]["HOST"] == "db.internal"
    assert settings.KEYS_BACKEND_NAME == "aws"
    assert settings.KMS_SIGN_KEY_ID == "alias/tessera-sign"
    assert settings.CARD_JWT_AUDIENCE == "vault.pay.example.com"
    assert settings.METRICS_BEARER_TOKEN == ""
    assert settings.CARD_JWT_LIFETIME_SECONDS == 120
    assert settings.PUBLIC_ORIGIN == "https://pay.example.com"
    assert settings.LOG_FORMAT == "json"
    assert multiproc_left is False  # empty means unset, so prometheus_client stays single-process


def test_cp_env_example_then_manage_py_check_in_a_fresh_clone(tmp_path: Path) -> None:
    """A newcomer's first step, through the project's own loader (``./.env``) into the
    development settings, in a subprocess: no SECRET_KEY given, none needed."""
    clone = fresh_clone(tmp_path)
    shutil.copyfile(clone / ".env.example", clone / ".env")
    show = (
        "from django.conf import settings as s; "
        "print(','.join(s.ALLOWED_HOSTS), s.DATABASES['default']['ENGINE'], "
        "s.KEYS_BACKEND_NAME, s.SECRET_KEY == open('.run/secret_key').read().strip())"
    )

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(clone / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=clone,
            env=newcomer_env(),
            capture_output=True,
            text=True,
            check=False,
        )

    checked, shown, again = (
        manage("check"),
        manage("shell", "-v", "0", "-c", show),
        manage("shell", "-v", "0", "-c", show),
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "System check identified no issues (0 silenced)."
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        "localhost,127.0.0.1,[::1]",
        "django.db.backends.sqlite3",
        "local",
        "True",
    ]
    assert len((clone / ".run" / "secret_key").read_text().strip()) >= 50
    assert (clone / ".run" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert again.stdout == shown.stdout  # the same key on every start


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("A=1  # note", {"A": "1"}),
        ("A=a#b", {"A": "a#b"}),
        ("A='x # y'  # note", {"A": "x # y"}),
        ('A="x y"', {"A": "x y"}),
        ("export A=1", {"A": "1"}),
        ("A=   # only a comment", {"A": ""}),
        ("# A=1", {}),
    ],
)
def test_dotenv_lines(line: str, expected: dict[str, str]) -> None:
    assert parse_dotenv(line) == expected


@pytest.mark.parametrize("line", ["A='unterminated", "A='x' trailing", "not a line"])
def test_dotenv_refuses_malformed_lines_naming_the_line(line: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^\.env line 1: "):
        parse_dotenv(f"{line}")


# --- every wrong value, generated from the table ------------------------------------------


@pytest.mark.parametrize(("name", "value", "entry"), CASES)
def test_wrong_value_stops_the_start_in_one_line(
    name: str, value: str, entry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = VARIABLES[name]

    result = start(entry, {name: value})

    message = capsys.readouterr().err.strip() if entry == "gunicorn" else result.error
    assert result.module is None
    assert message is not None
    if entry == "gunicorn":
        assert result.error == "exit 2"
        assert message.startswith(f"ImproperlyConfigured: {name}=")
    else:
        assert message.startswith(f"{name}=")
    assert "\n" not in message
    assert message.endswith(f"; allowed: {rule.allowed}")
    if rule.secret:
        assert value not in message
        assert f"{name}=<hidden>:" in message


@pytest.mark.parametrize("entry", ["development", "test", "production"])
def test_empty_values_mean_the_default(entry: str) -> None:
    empties = {
        name: ""
        for name in READS[entry]
        if name not in ENTRY_POINTS[entry] and name not in {"ENV_FILE"}
    }

    result = start(entry, empties)

    assert result.error is None
    assert result.module is not None


# --- the operator's view: one line, no traceback ------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "KEYS_BACKEND",
            "bogus",
            "KEYS_BACKEND='bogus': not one of the choices; allowed: aws or local",
        ),
        ("DATA_KEY_MAX_USES", "abc", "DATA_KEY_MAX_USES='abc': not a whole number;"),
        ("DATABASE_URL", "mysql://u:pw@db/x", "DATABASE_URL=<hidden>: not in the allowed form;"),
        ("DEBUG", "maybe", "DEBUG='maybe': not a boolean; allowed: true or false"),
        (
            "CARD_JWT_LIFETIME_SECONDS",
            "900",
            "CARD_JWT_LIFETIME_SECONDS='900': above the maximum 300;",
        ),
    ],
)
def test_manage_py_prints_one_line(variable: str, value: str, expected: str) -> None:
    environ = {**ENTRY_POINTS["development"], "PATH": "/usr/bin:/bin", variable: value}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "payments_site.settings.development"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"ImproperlyConfigured: {expected}")
    assert result.stderr.count("\n") == 1
    assert "pw" not in result.stderr


def test_refused_database_connection_is_one_line() -> None:
    environ = {
        **ENTRY_POINTS["development"],
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "payments_site.settings.development",
        "DATABASE_URL": "postgres://tessera:pw@127.0.0.1:1/tessera",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("Database unavailable (DATABASE_URL): ")
    assert "Connection refused" in result.stderr
    assert result.stderr.count("\n") == 1


def test_empty_multiproc_dir_writes_no_metric_files(tmp_path: Path) -> None:
    environ = {
        **production_env(),
        **KMS_ENV,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": "",
    }
    code = (
        "import django; django.setup(); from monitoring.observability import metrics; "
        "metrics.TOKENIZATIONS.inc(); print(type(metrics.TOKENIZATIONS._value).__name__)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "MutexValue"
    assert list(tmp_path.iterdir()) == []


# --- the port `make run` serves flows into every link and origin ----------------------------


def test_development_port_sets_the_public_origin_and_csrf_origins() -> None:
    result = start("development", {"PORT": "9444"})

    assert result.module is not None
    assert result.module.PUBLIC_ORIGIN == "https://localhost:9444"
    assert result.module.CSRF_TRUSTED_ORIGINS == [
        "https://127.0.0.1:9444",
        "https://localhost:9444",
    ]


# --- logs -----------------------------------------------------------------------------------


def test_log_format_defaults_to_console_in_development_and_json_elsewhere() -> None:
    formats = {
        entry: start(entry).module.LOGGING["handlers"]["console"]["formatter"]  # type: ignore[union-attr]
        for entry in ("development", "test", "production")
    }

    assert formats == {"development": "console", "test": "json", "production": "json"}


def test_production_refuses_console_logs() -> None:
    result = start("production", {"LOG_FORMAT": "console"})

    assert result.error == "LOG_FORMAT='console': production logs JSON only; allowed: json"


@pytest.mark.django_db(transaction=True)
def test_inline_tasks_without_a_broker_log_no_kombu_warning() -> None:
    environ = {
        **ENTRY_POINTS["development"],
        "DATABASE_URL": servers.test_database_url(),
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "payments_site.settings.development",
        "LOG_FORMAT": "json",
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from checkout.webhooks.tasks import deliver_webhook; "
        "print(settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER); "
        "deliver_webhook.delay(0, '2030-01-01T00:00:00+00:00')"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )

    assert result.stdout.splitlines()[0] == "memory://localhost/ True"
    assert result.returncode == 0, result.stderr
    assert "kombu" not in result.stdout + result.stderr


def test_development_webhooks_may_reach_this_machine_and_production_refuses() -> None:
    development = start("development").module
    refused = start("production", {"WEBHOOK_ALLOW_HTTP": "true"})

    assert development is not None
    assert (development.WEBHOOK_ALLOW_HTTP, development.WEBHOOK_ADDRESS_ALLOWLIST) == (
        True,
        ["127.0.0.1"],
    )
    assert refused.error is not None
    assert "WEBHOOK_ALLOW_HTTP" in refused.error
