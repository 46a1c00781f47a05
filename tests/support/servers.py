"""Real servers for integration tests: gunicorn with TLS on a free port, pointed at the test
database of the running test session."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """The URL of the database the test process is using now (pytest-django's test DB)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(str(s['NAME'])).resolve()}"
    auth = s["USER"] or ""
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    host = f"{auth}@{s['HOST']}" if auth else s["HOST"]
    return f"postgres://{host}:{s['PORT'] or 5432}/{s['NAME']}"


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "payments_site.settings.test",
            "DATABASE_URL": test_database_url(),
            "ENV_FILE": "/dev/null",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def tls_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    cafile: Path | None

    def get(self, path: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        context = tls_context(self.cafile) if self.cafile else None
        request = urllib.request.Request(self.url + path)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


@contextmanager
def gunicorn(
    *,
    cert: tuple[Path, Path] | None,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[RunningServer]:
    """Start ``payments_site.wsgi`` under gunicorn and wait until ``/healthz`` answers."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "payments_site.wsgi:application",
        "-c",
        str(ROOT / "payments_site" / "gunicorn_conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    if cert:
        args += ["--certfile", str(cert[0]), "--keyfile", str(cert[1])]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        args, cwd=ROOT, env=server_env(env), stdout=log, stderr=subprocess.STDOUT
    )
    scheme = "https" if cert else "http"
    server = RunningServer(f"{scheme}://localhost:{port}", process, cert[0] if cert else None)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                if server.get("/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not become healthy in 60 s")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


@contextmanager
def celery_workers(
    *,
    broker: str,
    queue: str,
    logs: Sequence[Path],
    env: Mapping[str, str] | None = None,
    include: Sequence[str] = (),
) -> Iterator[None]:
    """One Celery worker process (solo pool) per log file, consuming ``queue`` only; while they
    run, this process's Celery app sends there instead of running tasks eagerly. Returns once
    every worker is ready; afterwards they are stopped and the queue deleted. ``include``:
    more task modules for the workers to import (bench-only tasks)."""
    import redis

    from payments_site.celery import app

    worker_env = server_env(
        {
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **(env or {}),
        }
    )
    outputs = [log.open("wb") for log in logs]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "payments_site",
                "worker",
                "--pool=solo",
                "-Q",
                queue,
                "-n",
                f"w{i}-{queue}@%h",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(f"--include={module}" for module in include),
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        for i, output in enumerate(outputs, 1)
    ]
    previous = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=broker, task_default_queue=queue)
    try:
        deadline = time.monotonic() + 60
        while not all("ready" in log.read_text(errors="replace") for log in logs):
            for process, log in zip(processes, logs, strict=True):
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"a Celery worker died at start:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError("the Celery workers did not start in 60 s")
            time.sleep(0.2)
        yield
    finally:
        app.conf.update(previous)
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for output in outputs:
            output.close()
        redis.Redis.from_url(broker).delete(queue)
