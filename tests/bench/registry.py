"""The bench registry and small helpers shared by bench modules."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Bench:
    name: str
    fn: Callable[[BenchContext], None]


@dataclass
class BenchContext:
    """What a bench gets: its size and a place to print rows."""

    cards: int
    lines: list[str] = field(default_factory=list)

    def row(self, first: object, *cells: object) -> None:
        """One table row: a 40-wide label, then 15-wide columns."""
        text = str(first).ljust(40) + "".join(str(c).rjust(15) for c in cells)
        self.lines.append(text)
        print(text, flush=True)  # noqa: T201


BENCHES: list[Bench] = []


def bench(name: str) -> Callable[[Callable[[BenchContext], None]], Callable[[BenchContext], None]]:
    def register(fn: Callable[[BenchContext], None]) -> Callable[[BenchContext], None]:
        BENCHES.append(Bench(name, fn))
        return fn

    return register


@dataclass
class Timing:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timing]:
    timing = Timing()
    start = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - start
