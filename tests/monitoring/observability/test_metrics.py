"""Prometheus through the real server: two gunicorn workers, one merged /metrics."""

from __future__ import annotations

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.servers import gunicorn, tls_context

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN = "scrape-token-for-tests"


def _get(url: str, cafile: Path, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls_context(cafile)) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _sample(body: bytes, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", body.decode(), re.M)
    assert match, f"{name}{{{labels}}} missing"
    return float(match.group(1))


def test_metrics_are_merged_across_workers_and_need_the_token(
    tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    (multiproc / "counter_99999.db").write_bytes(b"")  # a stale file from a "previous run"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "METRICS_BEARER_TOKEN": TOKEN}

    with gunicorn(cert=tls_cert, workers=2, env=env) as server:
        # given traffic that new connections spread over both workers
        before = _get(f"{server.url}/metrics", tls_cert[0], {"Authorization": f"Bearer {TOKEN}"})
        # (in parallel, until both workers have written samples; bounded)
        sent = 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            while sent < 400 and (sent < 30 or len(_worker_files(multiproc)) < 2):
                statuses = list(pool.map(lambda _: server.get("/healthz")[0], range(10)))
                assert statuses == [200] * 10
                sent += 10
        for _ in range(3):
            status, _ = _get(
                f"{server.url}/api/v1/merchant",
                tls_cert[0],
                {"Authorization": "Bearer sk_test_wrong"},
            )
            assert status == 401

        unauthorised = _get(f"{server.url}/metrics", tls_cert[0], {})
        wrong = _get(f"{server.url}/metrics", tls_cert[0], {"Authorization": "Bearer nope"})
        status, body = _get(
            f"{server.url}/metrics", tls_cert[0], {"Authorization": f"Bearer {TOKEN}"}
        )
        worker_files = _worker_files(multiproc)

    assert before[0] == 200
    assert unauthorised[0] == 401 and wrong[0] == 401
    assert status == 200
    # the stale file was cleared at start, so the totals are this run's alone
    assert "99999.db" not in worker_files
    assert len(worker_files) == 2, "both workers should have served and written samples"
    healthz_before = _count(before[1], 'route="healthz",status="200"')
    assert _sample(body, "tessera_http_requests_total", 'route="healthz",status="200"') == (
        healthz_before + sent
    )
    assert _sample(body, "tessera_http_requests_total", 'route="merchant-me",status="401"') == 3
    assert "tessera_http_request_seconds_bucket" in body.decode()
    assert "sk_test_wrong" not in body.decode()


def _worker_files(directory: Path) -> set[str]:
    return {p.name.rsplit("_", 1)[-1] for p in directory.glob("counter_*.db")}


def _count(body: bytes, labels: str) -> float:
    try:
        return _sample(body, "tessera_http_requests_total", labels)
    except AssertionError:
        return 0.0
