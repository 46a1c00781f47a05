"""The counter store's batch: the anomaly rules' one round trip per event. Same answers as the
single operations, on the process-local cache and (with ``REDIS_URL``) on Redis."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from monitoring.security.counters import CacheCounterStore, CounterStore, Op, RedisCounterStore


@pytest.fixture(params=["locmem", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[CounterStore]:
    if request.param == "locmem":
        yield CacheCounterStore(LocMemCache(f"counters-{secrets.token_hex(4)}", {}))
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (REDIS_URL)")
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    yield RedisCounterStore(cache)


def test_a_batch_answers_like_the_single_operations(store: CounterStore) -> None:
    k = f"batch:{secrets.token_hex(6)}"
    store.incr(f"{k}:prev", ttl=60)
    store.distinct_add(f"{k}:set-prev", "a", ttl=60)

    answers = store.batch(
        [
            Op("incr", f"{k}:n", ttl=60),
            Op("incr", f"{k}:n", ttl=60),
            Op("get_int", f"{k}:prev"),
            Op("get_int", f"{k}:missing"),
            Op("distinct_add", f"{k}:set", member="fp1", ttl=60),
            Op("distinct_add", f"{k}:set", member="fp1", ttl=60),
            Op("distinct_add", f"{k}:set", member="fp2", ttl=60),
            Op("distinct_count", f"{k}:set-prev"),
            Op("distinct_add_raw", f"{k}:codes", member="card_declined", ttl=60),
        ]
    )

    assert answers == [1, 2, 1, 0, 1, 1, 2, 1, 0]
    assert store.get_int(f"{k}:n") == 2
    assert store.distinct_count(f"{k}:set") == 2
    assert store.members_raw(f"{k}:codes") == {"card_declined"}
    assert store.batch([]) == []


def test_batched_counters_keep_their_lifetime(store: CounterStore) -> None:
    if not isinstance(store, RedisCounterStore):
        pytest.skip("TTLs are read back from Redis only")
    k = f"batch:{secrets.token_hex(6)}"
    store.batch([Op("incr", f"{k}:n", ttl=60), Op("distinct_add", f"{k}:s", member="x", ttl=90)])
    store.batch([Op("incr", f"{k}:n", ttl=5), Op("distinct_add", f"{k}:s", member="y", ttl=5)])

    client = store._client()
    # the first write set the lifetime; later writes never extend or drop it
    assert 55 <= client.ttl(store._key(f"{k}:n")) <= 60
    assert 85 <= client.ttl(store._key(f"{k}:s")) <= 90
