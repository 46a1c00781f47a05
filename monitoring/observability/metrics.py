"""Prometheus metrics: typed helpers the vault, checkout and charges code call.

Counters and histograms only (they aggregate correctly across gunicorn workers in
multiprocess mode). Label values come from short closed sets (reason codes, statuses,
route names); anything else is folded into ``other`` so that no caller can blow up the
number of series, or leak an identifier into a label.

Multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory before
gunicorn starts; ``payments_site/gunicorn_conf.py`` clears it at start and marks exited
workers dead. ``/metrics`` then merges every worker's samples.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

_LABEL = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_DIGIT_RUN = re.compile(r"[0-9]{6,}")

# Latency buckets in seconds: KMS calls are ~1-3 ms locally and tens of ms on AWS; a whole
# ingest is a few ms to a few hundred.
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

TOKENIZATIONS = Counter("tessera_tokenizations", "Cards tokenized by the vault.")
REFUSALS = Counter(
    "tessera_refusals", "Card or JWT submissions refused, by reason code.", ["reason"]
)
CHARGES = Counter("tessera_charges", "Charges attempted, by final status.", ["status"])
ALERTS = Counter("tessera_security_alerts", "Security alerts raised, by rule.", ["rule"])
LOCKOUTS = Counter("tessera_lockouts", "Credential lockouts started, by credential kind.", ["kind"])
INGEST_SECONDS = Histogram(
    "tessera_ingest_seconds", "Time to verify and tokenize one card JWT.", buckets=_FAST_BUCKETS
)
KMS_SECONDS = Histogram(
    "tessera_kms_seconds", "Time per KMS call, by operation.", ["operation"], buckets=_FAST_BUCKETS
)
HTTP_REQUESTS = Counter(
    "tessera_http_requests", "HTTP requests, by route name and status.", ["route", "status"]
)
HTTP_SECONDS = Histogram("tessera_http_request_seconds", "HTTP request latency.", ["route"])


def label(value: object) -> str:
    """A safe label value: a short lower-case code, or ``other``. A long run of digits is
    never a code (it could be a card number or an id), so it is refused too."""
    text = str(value).lower()
    return text if _LABEL.match(text) and not _DIGIT_RUN.search(text) else "other"


def tokenization_inc() -> None:
    TOKENIZATIONS.inc()


def refusal_inc(*, reason: str) -> None:
    """``reason`` is an error code such as ``invalid_number`` or ``jwt_expired``."""
    REFUSALS.labels(reason=label(reason)).inc()


def charge_inc(*, status: str) -> None:
    """``status`` is the charge's final status (``succeeded``, ``failed``) or failure code."""
    CHARGES.labels(status=label(status)).inc()


def alert_inc(*, rule: str) -> None:
    ALERTS.labels(rule=label(rule)).inc()


def lockout_inc(*, kind: str) -> None:
    LOCKOUTS.labels(kind=label(kind)).inc()


def ingest_observe(*, seconds: float) -> None:
    INGEST_SECONDS.observe(seconds)


def kms_observe(*, operation: str, seconds: float) -> None:
    KMS_SECONDS.labels(operation=label(operation)).observe(seconds)


@contextmanager
def ingest_timer() -> Iterator[None]:
    """``with ingest_timer(): …`` around one whole card ingest (success or failure)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        ingest_observe(seconds=time.perf_counter() - start)


@contextmanager
def kms_timer(*, operation: str) -> Iterator[None]:
    """``with kms_timer(operation="decrypt"): client.decrypt(…)`` around one KMS call."""
    start = time.perf_counter()
    try:
        yield
    finally:
        kms_observe(operation=operation, seconds=time.perf_counter() - start)


def http_observe(*, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route=label(route), status=str(status)).inc()
    HTTP_SECONDS.labels(route=label(route)).observe(seconds)


def metrics_exposition() -> tuple[bytes, str]:
    """The text exposition of every metric: merged across workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
