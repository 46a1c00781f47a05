"""Listening to domain events in tests: ``heard`` collects every event of the given types,
in the order handlers were called."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from payments_site.kernel.events import DomainEvent, subscribe, unsubscribe


@contextmanager
def heard(*event_types: type[DomainEvent]) -> Iterator[list[DomainEvent]]:
    events: list[DomainEvent] = []
    for event_type in event_types:
        subscribe(event_type, events.append)
    try:
        yield events
    finally:
        for event_type in event_types:
            unsubscribe(event_type, events.append)


@contextmanager
def failing_listener(event_type: type[DomainEvent]) -> Iterator[None]:
    def explode(event: DomainEvent) -> None:
        raise RuntimeError("listener down")

    subscribe(event_type, explode)
    try:
        yield
    finally:
        unsubscribe(event_type, explode)
