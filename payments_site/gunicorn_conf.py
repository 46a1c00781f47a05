"""gunicorn settings. Sync workers, one or two per core: under CPU-bound crypto, threads
pushed p99 past 200 ms in our measurements (ARCHITECTURE.md §8)."""

import multiprocessing
import os
import sys

from django.core.exceptions import ImproperlyConfigured
from prometheus_client import multiprocess

# The same strict reader as the settings (and the same .env): one line on a bad value.
try:
    from payments_site.settings.environment import env

    workers = env.int("WEB_CONCURRENCY", default=max(2, multiprocessing.cpu_count()))
    timeout = env.int("GUNICORN_TIMEOUT", default=30)
    accesslog = env.str("GUNICORN_ACCESS_LOG", default="-")
    forwarded_allow_ips = ",".join(env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1"]))
    # Lines for a person under `make run` (development settings), JSON everywhere else; the
    # workers' Django settings and the logger class (gunicorn_logging) read the same value.
    _development = os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".development")
    os.environ["LOG_FORMAT"] = env.str("LOG_FORMAT", default="console" if _development else "json")
except ImproperlyConfigured as error:
    sys.stderr.write(f"ImproperlyConfigured: {error}\n")
    raise SystemExit(2) from None
worker_class = "sync"
graceful_timeout = 10
keepalive = 5
# One structured record per request, path only (never the query string), card numbers masked
# like in every other log line; errors through the same formatter.
logger_class = "payments_site.gunicorn_logging.RedactingLogger"
errorlog = "-"
# gunicorn ≥ 24's control socket sits at one fixed path per user, so a second server on the same
# machine (tests, benchmarks, a blue/green pair) would clash with the first; we do not use it.
control_socket_disable = True


# --- Prometheus multi-process mode (monitoring/metrics.py) ------------------------------------
# Each worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR; /metrics merges them.


def on_starting(server: object) -> None:
    """Start from an empty directory: files of a previous run would be counted again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server: object, worker: object) -> None:
    """Forget an exited worker's live gauges (its counters stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
