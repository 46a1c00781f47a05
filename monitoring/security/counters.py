"""Shared, expiring counters for lockout and anomaly rules.

On Redis (``REDIS_URL``) every app server sees the same numbers, and each operation is one
MULTI/EXEC round trip that also sets the key's lifetime, so a counter can never lose its expiry
(Django's own ``cache.incr`` checks existence and increments in two steps: a key that expires
in between comes back without a TTL and would lock a source out for ever). Without Redis the
process-local cache is used, which is right for ``make run`` (one machine) and the tests.

Keys go through the cache's ``make_key``, so ``CACHE_KEY_PREFIX`` separates deployments and
test runs sharing one Redis.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

OpKind = Literal["incr", "distinct_add", "distinct_add_raw", "get_int", "distinct_count"]


@dataclass(frozen=True)
class Op:
    """One step of a ``CounterStore.batch``: the store method of the same name, as data.

    ``incr`` and ``distinct_add`` answer the new count, ``get_int`` and ``distinct_count`` the
    current one, ``distinct_add_raw`` answers 0.
    """

    kind: OpKind
    key: str
    member: str = ""
    ttl: int = 0


class CounterStore(Protocol):
    def batch(self, ops: Sequence[Op]) -> list[int]:
        """Run ``ops`` in order and answer one number each: on Redis one MULTI/EXEC round
        trip, so the anomaly rules cost one network round trip per event, not one per rule."""
        ...

    def incr(self, key: str, *, ttl: int) -> int: ...

    def distinct_add(self, key: str, member: str, *, ttl: int) -> int: ...

    def distinct_count(self, key: str) -> int: ...

    def distinct_add_raw(self, key: str, member: str, *, ttl: int) -> None: ...

    def members_raw(self, key: str) -> set[str]: ...

    def get_int(self, key: str) -> int: ...

    def get_many_int(self, keys: list[str]) -> list[int]: ...

    def set_float(self, key: str, value: float, *, ttl: int) -> None: ...

    def get_float(self, key: str) -> float | None: ...

    def get_many_float(self, keys: list[str]) -> list[float | None]: ...

    def add_flag(self, key: str, *, ttl: int) -> bool: ...

    def delete(self, *keys: str) -> None: ...


def member_digest(member: str) -> str:
    """Set members are stored as short digests: bounded size, and nothing readable."""
    return hashlib.sha256(member.encode("utf-8")).hexdigest()[:20]


class RedisCounterStore:
    def __init__(self, cache: RedisCache) -> None:
        self._cache = cache

    def _client(self) -> Any:
        return self._cache._cache.get_client(write=True)

    def _key(self, key: str) -> str:
        return self._cache.make_key(f"mon:{key}")

    def batch(self, ops: Sequence[Op]) -> list[int]:
        if not ops:
            return []
        pipe = self._client().pipeline(transaction=True)
        picks: list[int | None] = []  # per op: index of its answer in the pipeline's replies
        queued = 0
        for op in ops:
            k = self._key(op.key)
            if op.kind == "incr":
                pipe.incr(k)
                pipe.expire(k, op.ttl, nx=True)
                picks.append(queued)
                queued += 2
            elif op.kind == "distinct_add":
                pipe.sadd(k, member_digest(op.member))
                pipe.expire(k, op.ttl, nx=True)
                pipe.scard(k)
                picks.append(queued + 2)
                queued += 3
            elif op.kind == "distinct_add_raw":
                pipe.sadd(k, op.member)
                pipe.expire(k, op.ttl, nx=True)
                picks.append(None)
                queued += 2
            elif op.kind == "get_int":
                pipe.get(k)
                picks.append(queued)
                queued += 1
            elif op.kind == "distinct_count":
                pipe.scard(k)
                picks.append(queued)
                queued += 1
            else:  # pragma: no cover - OpKind is closed
                raise ValueError(f"unknown counter op {op.kind!r}")
        replies = pipe.execute()
        return [int(replies[i] or 0) if i is not None else 0 for i in picks]

    def incr(self, key: str, *, ttl: int) -> int:
        k = self._key(key)
        pipe = self._client().pipeline(transaction=True)
        pipe.incr(k)
        pipe.expire(k, ttl, nx=True)
        value, _ = pipe.execute()
        return int(value)

    def distinct_add(self, key: str, member: str, *, ttl: int) -> int:
        k = self._key(key)
        pipe = self._client().pipeline(transaction=True)
        pipe.sadd(k, member_digest(member))
        pipe.expire(k, ttl, nx=True)
        pipe.scard(k)
        _, _, count = pipe.execute()
        return int(count)

    def distinct_count(self, key: str) -> int:
        return int(self._client().scard(self._key(key)))

    def distinct_add_raw(self, key: str, member: str, *, ttl: int) -> None:
        """For short codes that must be read back (reason codes), not for identifiers."""
        k = self._key(key)
        pipe = self._client().pipeline(transaction=True)
        pipe.sadd(k, member)
        pipe.expire(k, ttl, nx=True)
        pipe.execute()

    def members_raw(self, key: str) -> set[str]:
        return {m.decode() for m in self._client().smembers(self._key(key))}

    def get_int(self, key: str) -> int:
        value = self._client().get(self._key(key))
        return int(value) if value is not None else 0

    def get_many_int(self, keys: list[str]) -> list[int]:
        if not keys:
            return []
        values = self._client().mget([self._key(k) for k in keys])
        return [int(v) if v is not None else 0 for v in values]

    def set_float(self, key: str, value: float, *, ttl: int) -> None:
        self._client().set(self._key(key), repr(value), ex=max(1, ttl))

    def get_float(self, key: str) -> float | None:
        value = self._client().get(self._key(key))
        return float(value) if value is not None else None

    def get_many_float(self, keys: list[str]) -> list[float | None]:
        if not keys:
            return []
        values = self._client().mget([self._key(k) for k in keys])
        return [float(v) if v is not None else None for v in values]

    def add_flag(self, key: str, *, ttl: int) -> bool:
        return bool(self._client().set(self._key(key), b"1", ex=max(1, ttl), nx=True))

    def delete(self, *keys: str) -> None:
        if keys:
            self._client().delete(*[self._key(k) for k in keys])


class CacheCounterStore:
    """Any Django cache (locmem in development). Atomic within one process only."""

    _lock = threading.Lock()

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache

    def _key(self, key: str) -> str:
        return f"mon:{key}"

    def batch(self, ops: Sequence[Op]) -> list[int]:
        out = []
        for op in ops:
            if op.kind == "incr":
                out.append(self.incr(op.key, ttl=op.ttl))
            elif op.kind == "distinct_add":
                out.append(self.distinct_add(op.key, op.member, ttl=op.ttl))
            elif op.kind == "distinct_add_raw":
                self.distinct_add_raw(op.key, op.member, ttl=op.ttl)
                out.append(0)
            elif op.kind == "get_int":
                out.append(self.get_int(op.key))
            elif op.kind == "distinct_count":
                out.append(self.distinct_count(op.key))
            else:  # pragma: no cover - OpKind is closed
                raise ValueError(f"unknown counter op {op.kind!r}")
        return out

    def incr(self, key: str, *, ttl: int) -> int:
        k = self._key(key)
        with self._lock:
            self._cache.add(k, 0, ttl)
            return int(self._cache.incr(k))

    def distinct_add(self, key: str, member: str, *, ttl: int) -> int:
        k = self._key(key)
        with self._lock:
            members: set[str] | None = self._cache.get(k)
            if members is None:
                members = set()
                expires = time.time() + ttl
                self._cache.set(f"{k}:exp", expires, ttl)
            else:
                expires = float(self._cache.get(f"{k}:exp") or time.time() + ttl)
            members.add(member_digest(member))
            self._cache.set(k, members, max(1, round(expires - time.time())))
            return len(members)

    def distinct_count(self, key: str) -> int:
        members = self._cache.get(self._key(key))
        return len(members) if members else 0

    def distinct_add_raw(self, key: str, member: str, *, ttl: int) -> None:
        k = self._key(key)
        with self._lock:
            members: set[str] = self._cache.get(k) or set()
            members.add(member)
            self._cache.set(k, members, ttl)

    def members_raw(self, key: str) -> set[str]:
        return set(self._cache.get(self._key(key)) or ())

    def get_int(self, key: str) -> int:
        return int(self._cache.get(self._key(key)) or 0)

    def get_many_int(self, keys: list[str]) -> list[int]:
        found = self._cache.get_many([self._key(k) for k in keys])
        return [int(found.get(self._key(k)) or 0) for k in keys]

    def set_float(self, key: str, value: float, *, ttl: int) -> None:
        self._cache.set(self._key(key), value, max(1, ttl))

    def get_float(self, key: str) -> float | None:
        value = self._cache.get(self._key(key))
        return float(value) if value is not None else None

    def get_many_float(self, keys: list[str]) -> list[float | None]:
        found = self._cache.get_many([self._key(k) for k in keys])
        values = [found.get(self._key(k)) for k in keys]
        return [float(v) if v is not None else None for v in values]

    def add_flag(self, key: str, *, ttl: int) -> bool:
        return bool(self._cache.add(self._key(key), 1, max(1, ttl)))

    def delete(self, *keys: str) -> None:
        self._cache.delete_many([self._key(k) for k in keys])


_stores: dict[str, CounterStore] = {}


def counter_store() -> CounterStore:
    """The store over ``settings.MONITORING_CACHE`` (default ``"default"``), made once."""
    alias = getattr(settings, "MONITORING_CACHE", "default")
    store = _stores.get(alias)
    if store is None:
        cache = caches[alias]
        store = (
            RedisCounterStore(cache) if isinstance(cache, RedisCache) else CacheCounterStore(cache)
        )
        _stores[alias] = store
    return store
