"""The ``Idempotency-Key`` header on every state-changing API call, Stripe semantics.

- Same key, same request → the first response replayed (errors included), with
  ``Idempotent-Replayed: true``.
- Same key, different request → 422 ``idempotency_key_reused``.
- Same key while the first request still runs → 409 ``idempotency_key_in_use``.

``@idempotent(effect=…)`` (``payments_site.kernel.idempotency``) on a DRF ``APIView`` method
claims the key before the handler runs and stores its answer after; ``idempotent_call`` here is
its implementation (``services.py``: the records and their rules). While the handler runs, the
service that commits the effect binds it to the record in the same transaction, so a retry of a
request that died after that commit answers with the effect (``effect``) and makes no second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from django.utils.crypto import salted_hmac
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from checkout.api.common import HEADER, IDEMPOTENCY_PARAMETER, MAX_KEY_LENGTH
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.idempotency.services import (
    IdempotencyClaimLost,
    IdempotencyKeyInUse,
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_effect_bind,
    idempotency_key_at_rest,
)
from payments_site.kernel.errors import DomainError, FieldError
from payments_site.kernel.idempotency import (
    EffectAlreadyBound,
    EffectAnswer,
    EffectBinder,
    EffectObjectAnswer,
    IdempotentOptions,
    effect_binding,
    idempotent,
)
from payments_site.kernel.jsontext import JsonRefused, json_parse
from payments_site.problems import PROBLEM_CONTENT_TYPE
from vault.authentication import request_merchant

# Response headers worth replaying (the rest are recomputed per response).
_REPLAYED_HEADERS = ("Location", "Retry-After")


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"


def idempotency_key_validate(value: str) -> str:
    """1–255 printable ASCII characters (no control characters)."""
    # Printable ASCII is exactly 0x20-0x7E: both tests run in C, on every state-changing call.
    if not value or len(value) > MAX_KEY_LENGTH or not (value.isascii() and value.isprintable()):
        raise InvalidIdempotencyKey(
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters, such as a "
            "UUID.",
            errors=[
                FieldError(
                    HEADER, "invalid_idempotency_key", "Use 1 to 255 ASCII characters, e.g. a UUID."
                )
            ],
        )
    return value


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """Keyed hash of the request; JSON bodies are canonicalised so key order and whitespace do
    not matter. Keyed, so a stored fingerprint cannot be brute-forced back to a small body."""
    try:
        canonical = json.dumps(
            json_parse(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except JsonRefused:  # the view refuses such a body; its raw bytes still fingerprint it
        canonical = body
    material = method.upper().encode() + b"\n" + path.encode() + b"\n" + canonical
    return salted_hmac("tessera.idempotency", material, algorithm="sha256").hexdigest()


def idempotent_call(
    handler: Callable[..., Response],
    options: IdempotentOptions,
    view: APIView,
    request: Request,
    *args: Any,
    **kwargs: Any,
) -> Response:
    """The implementation behind the kernel's ``@idempotent``: claim the key, run the handler
    with its effect bound to the record, store the answer (unless stored already with the
    effect's outcome)."""
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        return handler(view, request, *args, **kwargs)
    key = idempotency_key_at_rest(idempotency_key_validate(raw_key))
    django_request = request._request
    body = django_request.body  # read before DRF parses it; Django keeps a copy
    begin = partial(
        idempotency_begin,
        merchant=request_merchant(request),
        key=key,
        fingerprint=request_fingerprint(
            method=request.method or "POST", path=django_request.get_full_path(), body=body
        ),
        method=request.method or "POST",
        path=django_request.path,
        defer=options.claim_with_effect,
    )
    for attempt in range(3):
        try:
            outcome = begin(read=attempt > 0)  # a first try claims without a read
            return _run(handler, options, view, request, outcome, *args, **kwargs)
        except IdempotencyClaimLost:
            continue  # a request with the same key claimed it first: see what it holds now
    raise IdempotencyKeyInUse()


def _run(
    handler: Callable[..., Response],
    options: IdempotentOptions,
    view: APIView,
    request: Request,
    outcome: IdempotencyKey | StoredResponse,
    *args: Any,
    **kwargs: Any,
) -> Response:
    if isinstance(outcome, StoredResponse):
        return _replay(outcome)
    binder = _Binder(outcome, options.answer)
    if outcome.effect:
        # Taken over from a request that died after committing its effect: that is the answer.
        response = _effect_answer(view, request, options.effect, outcome.effect)
    else:
        try:
            with effect_binding(binder):
                response = handler(view, request, *args, **kwargs)
        except IdempotencyClaimLost:
            raise
        except EffectAlreadyBound as first:
            # A request with this key that outlived its lock committed first; ours rolled back.
            response = _effect_answer(view, request, options.effect, first.object_id)
        except Exception as exc:
            # Errors are answers too: render them now so that the retry sees the same one.
            response = view.handle_exception(exc)
    if response is binder.response:
        return response  # stored with the effect's outcome, in its transaction
    status, stored_body, headers = _stored_form(response)
    stored = binder.stored
    if (
        stored is not None
        and (stored[0], stored[2]) == (status, headers)
        and _canonical(stored[1]) == _canonical(stored_body)
    ):
        return response  # the same answer, stored so already
    idempotency_complete(record=outcome, status=status, body=stored_body, headers=headers)
    return response


def _stored_form(response: Response) -> tuple[int, Any, dict[str, str]]:
    """What is kept of an answer for its replays: status, body, the headers worth replaying."""
    headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
    if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE) or (
        response.content_type == PROBLEM_CONTENT_TYPE
    ):
        headers["Content-Type"] = PROBLEM_CONTENT_TYPE
    # A view may store a different body for replays than it answers now (webhooks: the
    # signing secret is answered once and never stored in clear).
    stored_body = getattr(response, "idempotency_replay_data", response.data)
    return response.status_code, stored_body, headers


def _canonical(body: Any) -> str:
    return json.dumps(body, cls=JSONEncoder, sort_keys=True)


class _Binder(EffectBinder):
    """Binds the request's effect to its record; with ``answer``, stores the answer in the
    transaction that settles that effect (``effect_settled``)."""

    def __init__(self, record: IdempotencyKey, answer: EffectObjectAnswer | None) -> None:
        self.record = record
        self.answer = answer
        self.stored: tuple[int, Any, dict[str, str]] | None = None  # as stored, compared lazily
        self.response: Response | None = None  # the stored answer, as built for its object
        self._settled: Any = None

    def bind(self, object_id: str) -> None:
        idempotency_effect_bind(record=self.record, object_id=object_id)

    def settled(self, obj: Any) -> None:
        if self.answer is None or not self.record.effect or str(obj.pk) != self.record.effect:
            return
        response = self.answer(obj)
        status, body, headers = _stored_form(response)
        if status >= 500 or status == 429:
            return
        idempotency_complete(record=self.record, status=status, body=body, headers=headers)
        self.stored = (status, body, headers)
        self.response, self._settled = response, obj

    def answer_for(self, obj: Any) -> Response | None:
        return self.response if obj is self._settled else None


def _effect_answer(
    view: APIView, request: Request, effect: EffectAnswer, object_id: str
) -> Response:
    """The operation's answer for an effect made already, marked as a replay."""
    try:
        response: Response = effect(request, object_id)
    except Exception as exc:
        response = view.handle_exception(exc)
    response["Idempotent-Replayed"] = "true"
    return response


def _replay(stored: StoredResponse) -> Response:
    headers = dict(stored.headers)
    content_type = headers.pop("Content-Type", None)
    response = Response(stored.body, status=stored.status, headers=headers)
    if content_type:
        response.content_type = content_type
    response["Idempotent-Replayed"] = "true"
    return response


__all__ = ["HEADER", "IDEMPOTENCY_PARAMETER", "idempotent", "idempotent_call"]
