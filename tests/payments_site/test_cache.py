"""The cache backends: Redis with one ``redis.Redis`` per pool, still correct across threads and
a fork (the pool, not the client, owns the connections); both it and the local cache take any
key without the memcached portability check."""

from __future__ import annotations

import os
import secrets
import threading
import warnings
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from payments_site.cache import LocalCache, RedisCache


@pytest.fixture
def redis_cache() -> Iterator[RedisCache]:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (REDIS_URL)")
    cache = RedisCache(url, {"KEY_PREFIX": f"cache-test-{secrets.token_hex(4)}"})
    yield cache
    cache.clear()


def test_one_client_per_pool_answers_like_djangos(redis_cache: RedisCache) -> None:
    theirs = DjangoRedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": redis_cache.key_prefix})

    assert redis_cache._cache.get_client() is redis_cache._cache.get_client(write=True)
    assert theirs._cache.get_client() is not theirs._cache.get_client()  # what this avoids
    redis_cache.set("k", {"a": 1}, 30)
    assert theirs.get("k") == {"a": 1}
    assert redis_cache.add("n", 0, 30) and redis_cache.incr("n") == 1
    assert theirs.incr("n") == 2


def test_the_shared_client_serves_threads_at_once(redis_cache: RedisCache) -> None:
    redis_cache.set("n", 0, 30)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                redis_cache.incr("n")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert redis_cache.get("n") == 400


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_worker_gets_its_own_connections(redis_cache: RedisCache) -> None:
    redis_cache.set("before", 1, 30)  # the parent holds a connection, as gunicorn's master may
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        ok = redis_cache.get("before") == 1 and redis_cache.add("child", 1, 30)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert redis_cache.get("child") == 1 and redis_cache.get("before") == 1


def test_keys_memcached_would_refuse_are_kept_without_a_warning() -> None:
    cache = caches["default"]  # the configured one, whichever it is
    assert isinstance(cache, LocalCache | RedisCache)
    stem = secrets.token_hex(4)
    keys = [f"{stem}:{'x' * 300}", f"{stem}: with spaces", f"{stem}:\x7fcontrol"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        for value, key in enumerate(keys):
            cache.set(key, value, 30)
        assert [cache.get(key) for key in keys] == [0, 1, 2]
        assert cache.incr(keys[2]) == 3
        cache.delete_many(keys)
        assert cache.get_many(keys) == {}
