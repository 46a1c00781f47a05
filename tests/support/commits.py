"""Count database commits: each outermost ``atomic`` that commits, plus each write statement
run in autocommit mode (on PostgreSQL every one of those is a WAL flush)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


@dataclass
class Commits:
    explicit: int = 0
    autocommit_writes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.explicit + len(self.autocommit_writes)


@contextlib.contextmanager
def count_commits() -> Iterator[Commits]:
    counted = Commits()
    original_commit = connection.commit

    def commit() -> None:
        counted.explicit += 1
        original_commit()

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        if _WRITE.match(sql) and connection.get_autocommit() and not connection.in_atomic_block:
            counted.autocommit_writes.append(sql.split("(")[0][:60])
        return execute(sql, params, many, ctx)

    connection.commit = commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(wrapper):
            yield counted
    finally:
        del connection.commit
