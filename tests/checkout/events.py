"""A recording ``CHECKOUT_EVENT_HOOKS`` entry for tests."""

from __future__ import annotations

from django.db.models import Model

RECORDED: list[tuple[str, str]] = []


def record(*, event_type: str, obj: Model) -> None:
    RECORDED.append((event_type, str(obj.pk)))


def explode(*, event_type: str, obj: Model) -> None:
    raise RuntimeError("webhook outbox unavailable")
