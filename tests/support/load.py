"""A small closed-loop HTTP load generator for the benches: N connections, each sending its
share of prepared requests back to back, recording per-request latency."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @classmethod
    def combine(cls, parts: Sequence[LoadResult]) -> LoadResult:
        """Several runs of the same load as one (rates add up over their summed time)."""
        statuses: dict[int, int] = {}
        for part in parts:
            for status, n in part.statuses.items():
                statuses[status] = statuses.get(status, 0) + n
        return cls(
            requests=sum(p.requests for p in parts),
            seconds=sum(p.seconds for p in parts),
            latencies=[lat for p in parts for lat in p.latencies],
            statuses=statuses,
        )

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000


def run_load(
    url: str,
    bodies: Sequence[bytes],
    *,
    connections: int,
    content_type: str,
    headers: Callable[[], Mapping[str, str]] | None = None,
) -> LoadResult:
    """POST every body once to ``url`` over ``connections`` parallel plain-HTTP clients.
    ``headers`` is called per request for extra headers (an API key, a fresh Idempotency-Key)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    shares = [bodies[i::connections] for i in range(connections)]

    def worker(share: Sequence[bytes]) -> None:
        local: list[tuple[float, int]] = []
        for body in share:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            started = time.perf_counter()
            sent = {"Content-Type": content_type, **(headers() if headers else {})}
            conn.request("POST", path, body=body, headers=sent)
            response = conn.getresponse()
            response.read()
            local.append((time.perf_counter() - started, response.status))
            conn.close()
        with lock:
            for latency, status in local:
                latencies.append(latency)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(bodies), time.perf_counter() - started, latencies, statuses)
