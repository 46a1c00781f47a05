"""Idempotent writes, as every app sees them: the ``@idempotent`` view decorator and
``effect_bind``.

A state-changing request has one effect — the object it creates or changes. The service that
commits it calls ``effect_bind(object_id)`` inside the same transaction; under ``@idempotent``
that records the object's id on the request's idempotency record, so the effect and its
record commit together or not at all. A request that dies after that commit (a worker killed
by its timeout, an OOM kill, a deploy) leaves a record that names its effect: the client's
retry, once the record's lock lapses, answers with that object instead of running again, so
no second effect can ever be made. Outside ``@idempotent`` (billing, the hosted page, the
admin) ``effect_bind`` does nothing.

An operation on the payment path can spare the commits of its own that the record costs:
``@idempotent(claim_with_effect=True, answer=…)`` claims the key in the effect's transaction
(``effect_bind`` inserts the record) and stores the answer in the transaction that records the
effect's outcome (``effect_settled``), so a charge commits twice: its intent, its outcome.

This is the kernel's side only: the records live in the checkout
(``checkout.payments.idempotency``), which installs the implementation when it starts, so
the vault's views use the same mechanism without importing the checkout.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

Handler = TypeVar("Handler", bound=Callable[..., Any])
# How an operation answers with an effect it already made: (request, object id) → response.
EffectAnswer = Callable[[Any, str], Any]
# (handler, IdempotentOptions, view, request, *args, **kwargs) → response
Implementation = Callable[..., Any]

# How an operation answers with the object of its effect: object → response.
EffectObjectAnswer = Callable[[Any], Any]


class EffectBinder:
    """Where ``effect_bind`` / ``effect_settled`` write while a request runs under
    ``@idempotent`` (the records' app implements it)."""

    def bind(self, object_id: str) -> None:
        raise NotImplementedError

    def settled(self, obj: Any) -> None:
        """The effect's outcome is being recorded in the current transaction."""

    def answer_for(self, obj: Any) -> Any | None:
        """The answer ``settled`` stored for ``obj`` itself, if it stored one."""
        return None


_binder: ContextVar[EffectBinder | None] = ContextVar("effect_binder", default=None)
_implementation: list[Implementation] = []


@dataclass(frozen=True)
class IdempotentOptions:
    effect: EffectAnswer
    answer: EffectObjectAnswer | None = None
    claim_with_effect: bool = False


class EffectAlreadyBound(Exception):
    """Another request with the same key bound its effect first: roll back, answer with it."""

    def __init__(self, object_id: str) -> None:
        super().__init__(object_id)
        self.object_id = object_id


def effect_bind(object_id: str) -> None:
    """Bind ``object_id`` as the current request's effect. Call it inside the transaction
    that commits the effect; raises ``EffectAlreadyBound`` (so that transaction rolls back)
    when another request with the same key already bound one."""
    binder = _binder.get()
    if binder is not None:
        binder.bind(object_id)


def effect_settled(obj: Any) -> None:
    """Call inside the transaction that records the outcome of ``obj`` (a charge settled, a
    refund settled): an ``@idempotent(answer=…)`` request whose effect ``obj`` is stores its
    answer in that same transaction instead of a commit of its own after it. Does nothing
    elsewhere, or for an object that is not the request's effect."""
    binder = _binder.get()
    if binder is not None:
        binder.settled(obj)


def settled_answer(obj: Any, answer: EffectObjectAnswer) -> Any:
    """The operation's answer for ``obj``: the one ``effect_settled`` stored for this very
    object when there is one (rendered once, and the first answer is the replays' to the
    byte), else ``answer(obj)``."""
    binder = _binder.get()
    stored = binder.answer_for(obj) if binder is not None else None
    return stored if stored is not None else answer(obj)


@contextmanager
def effect_binding(binder: EffectBinder) -> Iterator[None]:
    """While a request runs under ``@idempotent``: where ``effect_bind`` writes."""
    token = _binder.set(binder)
    try:
        yield
    finally:
        _binder.reset(token)


def idempotency_install(implementation: Implementation) -> None:
    """Called once by the app that keeps the records (``CheckoutConfig.ready``)."""
    _implementation[:] = [implementation]


def idempotent(
    *,
    effect: EffectAnswer,
    answer: EffectObjectAnswer | None = None,
    claim_with_effect: bool = False,
) -> Callable[[Handler], Handler]:
    """Decorate a DRF view method (after authentication) to honour ``Idempotency-Key``.
    ``effect(request, object_id)`` answers with an effect made already, as the operation
    answers normally; ``answer(obj)`` is that answer from the object itself, stored by
    ``effect_settled``. ``claim_with_effect``: the key is claimed by ``effect_bind`` in the
    effect's transaction, for a handler that writes nothing before it (a request that fails
    first stores its answer once it has it)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(view: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            if not _implementation:
                raise ImproperlyConfigured("No idempotency implementation is installed.")
            options = IdempotentOptions(
                effect=effect, answer=answer, claim_with_effect=claim_with_effect
            )
            return _implementation[0](handler, options, view, request, *args, **kwargs)

        wrapper.idempotent_effect = effect  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
