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
from rest_framework.views import APIView

from checkout.api.common import HEADER, IDEMPOTENCY_PARAMETER, MAX_KEY_LENGTH
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.idempotency.services import (
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
    if not value or len(value) > MAX_KEY_LENGTH or not all(32 <= ord(c) < 127 for c in value):
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
    effect: EffectAnswer,
    view: APIView,
    request: Request,
    *args: Any,
    **kwargs: Any,
) -> Response:
    """The implementation behind the kernel's ``@idempotent``: claim the key, run the handler
    with its effect bound to the record, store the answer."""
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        return handler(view, request, *args, **kwargs)
    key = idempotency_key_at_rest(idempotency_key_validate(raw_key))
    django_request = request._request
    body = django_request.body  # read before DRF parses it; Django keeps a copy
    outcome = idempotency_begin(
        merchant=request_merchant(request),
        key=key,
        fingerprint=request_fingerprint(
            method=request.method or "POST", path=django_request.get_full_path(), body=body
        ),
        method=request.method or "POST",
        path=django_request.path,
    )
    if isinstance(outcome, StoredResponse):
        return _replay(outcome)
    if outcome.effect:
        # Taken over from a request that died after committing its effect: that is the answer.
        response = _effect_answer(view, request, effect, outcome.effect)
    else:
        try:
            with effect_binding(partial(_bind, outcome)):
                response = handler(view, request, *args, **kwargs)
        except EffectAlreadyBound as first:
            # A request with this key that outlived its lock committed first; ours rolled back.
            response = _effect_answer(view, request, effect, first.object_id)
        except Exception as exc:
            # Errors are answers too: render them now so that the retry sees the same one.
            response = view.handle_exception(exc)
    headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
    if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE) or (
        response.content_type == PROBLEM_CONTENT_TYPE
    ):
        headers["Content-Type"] = PROBLEM_CONTENT_TYPE
    # A view may store a different body for replays than it answers now (webhooks: the
    # signing secret is answered once and never stored in clear).
    stored_body = getattr(response, "idempotency_replay_data", response.data)
    idempotency_complete(
        record=outcome, status=response.status_code, body=stored_body, headers=headers
    )
    return response


def _bind(record: IdempotencyKey, object_id: str) -> None:
    idempotency_effect_bind(record=record, object_id=object_id)


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
