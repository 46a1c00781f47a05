"""Django's Redis and process-local caches, with one ``redis.Redis`` client per connection pool
and no memcached portability check on every key.

Django's client builds a new ``redis.Redis`` for every cache call, and redis-py fills a
case-insensitive table of some 170 response callbacks in each constructor: on a charge, with
its handful of counter and throttle calls, that came to more time than the round trips. A
``redis.Redis`` over a pool is safe to share between threads and holds no connection of its
own (the pool hands one out per command and notices a fork), so one per pool is enough.

Django checks every key on every call for what would break memcached (length, control
characters), through a generator and a lazily compiled pattern: a few per cent of a charge,
which makes a dozen counter, throttle and cool-off calls. Neither Redis nor the local cache
limits keys, and ours are built from fixed names and hex digests; Django's documented way to
drop the check is to override ``validate_key``.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.locmem import LocMemCache


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its pool and client class are private, untyped in the stubs
        pool = django_client._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = django_client._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def validate_key(self, key: str) -> None:
        """Any key Redis takes (binary-safe, up to 512 MB)."""


class LocalCache(LocMemCache):
    """Process-local, for development and tests."""

    def validate_key(self, key: str) -> None:
        """Any key: a dictionary's."""
