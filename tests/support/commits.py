"""Count database commits: each outermost ``atomic`` that commits, plus each write statement
run in autocommit mode (on PostgreSQL every one of those is a WAL flush).

The sandbox processor keeps its ledger in our database, as a real processor keeps its books in
its own: its commits are the processor's, counted apart (``processor``), never as ours."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from checkout.payments.processors.sandbox import SandboxProcessor

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_PROCESSOR_CALLS = ("charge", "authorize", "capture", "void", "refund", "charge_lookup")


@dataclass
class Commits:
    explicit: int = 0
    autocommit_writes: list[str] = field(default_factory=list)
    processor: int = 0  # commits made inside a sandbox processor call
    _in_processor: int = 0

    @property
    def total(self) -> int:
        """Ours: every commit but the processor's."""
        return self.explicit + len(self.autocommit_writes)


@contextlib.contextmanager
def count_commits() -> Iterator[Commits]:
    counted = Commits()
    original_commit = connection.commit

    def commit() -> None:
        if counted._in_processor:
            counted.processor += 1
        else:
            counted.explicit += 1
        original_commit()

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        if _WRITE.match(sql) and connection.get_autocommit() and not connection.in_atomic_block:
            if counted._in_processor:
                counted.processor += 1
            else:
                counted.autocommit_writes.append(sql.split("(")[0][:60])
        return execute(sql, params, many, ctx)

    def in_processor(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            counted._in_processor += 1
            try:
                return method(*args, **kwargs)
            finally:
                counted._in_processor -= 1

        return call

    originals = {name: getattr(SandboxProcessor, name) for name in _PROCESSOR_CALLS}
    connection.commit = commit  # type: ignore[method-assign]
    for name, method in originals.items():
        setattr(SandboxProcessor, name, in_processor(method))
    try:
        with connection.execute_wrapper(wrapper):
            yield counted
    finally:
        del connection.commit
        for name, method in originals.items():
            setattr(SandboxProcessor, name, method)
