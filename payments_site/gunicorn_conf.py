"""gunicorn settings. Sync workers, one or two per core: under CPU-bound crypto, threads
pushed p99 past 200 ms in our measurements (ARCHITECTURE.md §8)."""

import multiprocessing
import os

from prometheus_client import multiprocess

workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Path only (%(U)s), never the query string, so nothing a client appends reaches the log; and
# a card number in the path is masked like in every other log line.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
logger_class = "payments_site.gunicorn_logging.RedactingLogger"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms req=%({x-request-id}o)s'
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
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
