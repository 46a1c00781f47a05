"""Typed domain events: what happened, announced once the change is committed.

A domain publishes a frozen dataclass (``publish(ChargeSucceeded(...))``) where the change is
made; other parts subscribe to its type in their ``AppConfig.ready()``
(``subscribe(ChargeSucceeded, handler)``). Handlers run after the publishing transaction
commits, or at once outside one: a change that rolls back is never announced, and no handler
can undo the change it hears about. Each handler runs on its own: one that fails is logged
and the next still runs. Handlers of one event run in the order they subscribed.

A handler that only records the event next to the change (an outbox: the webhook events of a
charge) may subscribe ``in_transaction``: it runs when the event is published, inside the
publishing transaction, in a savepoint of its own, so the record commits with the change, or
not at all, and costs no commit of its own. A failure rolls back that savepoint only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event: ids and facts only, never card data."""


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], object]

_handlers: dict[type[DomainEvent], list[Handler]] = {}
_in_transaction: set[tuple[type[DomainEvent], Handler]] = set()


def subscribe(
    event_type: type[E], handler: Callable[[E], object], *, in_transaction: bool = False
) -> None:
    """Call ``handler(event)`` after every committed ``event_type`` (``in_transaction``: inside
    the publishing transaction); subscribing twice is a no-op (``ready()`` may run more than
    once in tests)."""
    handlers = _handlers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)
    if in_transaction:
        _in_transaction.add((event_type, handler))
    else:
        _in_transaction.discard((event_type, handler))


def unsubscribe(event_type: type[E], handler: Callable[[E], object]) -> None:
    handlers = _handlers.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)
    _in_transaction.discard((event_type, handler))


def subscriptions() -> dict[type[DomainEvent], tuple[Handler, ...]]:
    """Every event type with its handlers, in order."""
    return {event_type: tuple(handlers) for event_type, handlers in _handlers.items()}


def publish(event: DomainEvent) -> None:
    """Announce ``event`` once the current transaction commits (at once outside one); the
    ``in_transaction`` handlers hear of it now."""
    handlers = _handlers.get(type(event), ())
    now = [h for h in handlers if (type(event), h) in _in_transaction]
    if now:
        _deliver(event, now, savepoint=True)
    later = [h for h in handlers if (type(event), h) not in _in_transaction]
    if later:
        transaction.on_commit(functools.partial(_deliver, event, later))


def _deliver(event: DomainEvent, handlers: list[Handler], *, savepoint: bool = False) -> None:
    for handler in handlers:
        try:
            if savepoint:
                with transaction.atomic():
                    handler(event)
            else:
                handler(event)
        except Exception:
            logger.exception(
                "event_handler_failed",
                extra={"event": type(event).__name__, "handler": _name(handler)},
            )


def _name(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
