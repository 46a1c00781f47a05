"""The one ``env`` every settings module reads, the ``.env`` loader, and the project's paths.

``.env`` (written by ``make run``) fills in what the real environment leaves unset;
``ENV_FILE`` points elsewhere, or at /dev/null to read nothing. The loader is the project's own,
so that ``.env.example`` loads as written: ``NAME=value  # comment`` is ``value``.

Every read is checked against ``variables.VARIABLES``: a value that does not parse, or is
outside what the table allows, stops the start with one ``SettingError`` line naming the
variable, the problem and what is allowed (``manage.py``, ``wsgi.py`` and the gunicorn config
print that line alone, without a traceback). An empty value means unset, as if the line were
not there.
"""

from __future__ import annotations

import builtins
import math
import os
import re
from pathlib import Path
from typing import Any, NoReturn

import environ
from django.core.exceptions import ImproperlyConfigured

from .variables import VARIABLES, Variable

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUN_DIR = BASE_DIR / ".run"

_LINE = re.compile(r"\A\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)\Z")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INTEGER = re.compile(r"\A[+-]?\d+\Z")
# Shown in errors instead of the value of a variable the table marks secret.
_HIDDEN = "<hidden>"


class SettingError(ImproperlyConfigured):
    """One environment variable is unusable; ``str()`` is the whole one-line explanation."""


def parse_dotenv(text: str, *, source: str = ".env") -> dict[str, str]:
    """``NAME=value`` lines; ``#`` starts a comment at a line's start or after a space, outside
    quotes; ``'…'`` and ``"…"`` keep their content verbatim (no escapes); surrounding spaces go.
    Any other non-blank line is an error naming its line number."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise SettingError(f"{source} line {number}: not NAME=value; allowed: NAME=value")
        name, raw = match.group(1), match.group(2).strip()
        if raw[:1] in {"'", '"'}:
            end = raw.find(raw[0], 1)
            rest = raw[end + 1 :].strip() if end > 0 else "?"
            if end < 0 or (rest and not rest.startswith("#")):
                raise SettingError(
                    f"{source} line {number}: {name} has an unterminated or trailing quote; "
                    "allowed: a value in matching quotes, then only a # comment"
                )
            values[name] = raw[1:end]
        else:
            values[name] = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0].strip()
    return values


def load_dotenv(path: Path) -> None:
    """Fill ``os.environ`` from ``path`` where the environment leaves a variable unset."""
    if path.is_file():
        for name, value in parse_dotenv(path.read_text(), source=str(path)).items():
            os.environ.setdefault(name, value)


class StrictEnv(environ.Env):
    """django-environ's reader with strict parsing and the table's limits on every value.

    ``reads`` records each variable read and how, so that a test can hold the code, the table
    and ``.env.example`` to each other."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[builtins.str, builtins.str] = {}

    # --- the typed readers settings modules call --------------------------------------------
    def str(
        self, var: builtins.str, default: Any = environ.Env.NOTSET, multiline: builtins.bool = False
    ) -> Any:
        raw = self._raw(var, "str", default)
        if raw is None:
            return default
        self._check_choices(var, raw)
        self._check_pattern(var, raw)
        return raw

    def bool(self, var: builtins.str, default: Any = environ.Env.NOTSET) -> Any:
        raw = self._raw(var, "bool", default)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self._fail(var, raw, "not a boolean")

    def int(self, var: builtins.str, default: Any = environ.Env.NOTSET) -> Any:
        raw = self._raw(var, "int", default)
        if raw is None:
            return default
        if not _INTEGER.match(raw):
            self._fail(var, raw, "not a whole number")
        value = int(raw)
        self._check_choices(var, raw)
        self._check_range(var, raw, value)
        return value

    def float(self, var: builtins.str, default: Any = environ.Env.NOTSET) -> Any:
        raw = self._raw(var, "float", default)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self._fail(var, raw, "not a number")
        self._check_range(var, raw, value)
        return value

    def list(self, var: builtins.str, cast: Any = None, default: Any = environ.Env.NOTSET) -> Any:
        raw = self._raw(var, "list", default)
        if raw is None:
            return default
        items = [item.strip() for item in raw.split(",") if item.strip()]
        for item in items:
            self._check_choices(var, raw, item)
            self._check_pattern(var, raw, item)
            if cast is int and not _INTEGER.match(item):
                self._fail(var, raw, f"{item!r} is not a whole number")
        return [cast(item) for item in items] if cast else items

    def db(
        self, var: builtins.str = "DATABASE_URL", default: Any = environ.Env.NOTSET, **_: Any
    ) -> Any:
        raw = self._raw(var, "db", default)
        if raw is None:
            raw = default
        self._check_pattern(var, raw)
        try:
            return self.db_url_config(raw)
        except Exception as error:  # django-environ raises several kinds for a bad URL
            self._fail(var, raw, f"not a database URL ({type(error).__name__})")

    # --- helpers ------------------------------------------------------------------------------
    def _raw(self, var: builtins.str, kind: builtins.str, default: Any) -> builtins.str | None:
        """The stripped value, or None when unset or empty (then ``default`` applies)."""
        self.reads.setdefault(var, kind)
        raw = os.environ.get(var, "").strip()
        if raw:
            return raw
        if default is environ.Env.NOTSET:
            rule = VARIABLES.get(var)
            raise SettingError(
                f"{var} is not set; allowed: {rule.allowed if rule else 'any non-empty value'}"
            )
        return None

    def _fail(self, var: builtins.str, raw: builtins.str, problem: builtins.str) -> NoReturn:
        rule = VARIABLES.get(var)
        shown = _HIDDEN if rule is None or rule.secret else repr(raw[:80])
        allowed = rule.allowed if rule else "see .env.example"
        raise SettingError(f"{var}={shown}: {problem}; allowed: {allowed}")

    def _check_choices(
        self, var: builtins.str, raw: builtins.str, item: builtins.str | None = None
    ) -> None:
        rule = VARIABLES.get(var)
        value = raw if item is None else item
        if rule is not None and rule.choices and value not in rule.choices:
            self._fail(
                var,
                raw,
                "not one of the choices" if item is None else f"item {item!r} does not fit",
            )

    def _check_pattern(
        self, var: builtins.str, raw: builtins.str, item: builtins.str | None = None
    ) -> None:
        rule = VARIABLES.get(var)
        value = raw if item is None else item
        if rule is not None and rule.pattern and not re.fullmatch(rule.pattern, value):
            self._fail(
                var,
                raw,
                "not in the allowed form" if item is None else f"item {item!r} does not fit",
            )

    def _check_range(self, var: builtins.str, raw: builtins.str, value: builtins.float) -> None:
        rule: Variable | None = VARIABLES.get(var)
        if rule is None:
            return
        if rule.minimum is not None and value < rule.minimum:
            self._fail(var, raw, f"below the minimum {rule.minimum:g}")
        if rule.maximum is not None and value > rule.maximum:
            self._fail(var, raw, f"above the maximum {rule.maximum:g}")


env = StrictEnv()
ENV_FILE = Path(os.environ.get("ENV_FILE", "").strip() or BASE_DIR / ".env")
load_dotenv(ENV_FILE)
env.reads["ENV_FILE"] = "str"

# prometheus_client switches to multi-process mode when the variable merely exists, even
# empty (it would then write its files into the working directory): empty means unset.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "x").strip():
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
_multiproc_dir = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if _multiproc_dir and not (os.path.isdir(_multiproc_dir) and os.access(_multiproc_dir, os.W_OK)):
    env._fail("PROMETHEUS_MULTIPROC_DIR", _multiproc_dir, "not a writable directory")
