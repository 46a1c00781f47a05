"""Forward one token's card to a destination an operator registered, and nowhere else.

``forward_create`` reads top to bottom:

1. the URL is split and matched to an active destination of the merchant's mode (host and
   port exactly, the path under its prefix, its method) — the merchant never picks a host;
2. the template is parsed and every field it asks for must be one the destination may
   receive; the headers are checked; the token must be usable;
3. the host is resolved and every address vetted by the webhook sender's SSRF rules;
4. the forward is written ``pending`` and bound to the request's idempotency key, and
   committed: from here a retry answers with this forward and never sends again;
5. the card is revealed (audited with the forward, destination and purpose), the template
   filled in memory and sent over TLS to exactly the vetted address, with no redirects and
   the relay's own timeout; the card is dropped;
6. the answer is kept and returned with every card number in it masked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkout.payments.tokens import token_for_charge
from checkout.webhooks.addresses import (
    IPAddress,
    WebhookUrl,
    WebhookUrlRefused,
    target_resolve,
    webhook_url_validate,
)
from checkout.webhooks.transport import HttpOutcome, request_pinned
from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from payments_site.kernel.cards import card_data_mask
from payments_site.kernel.errors import DomainError, FieldError
from payments_site.kernel.idempotency import effect_bind
from payments_site.kernel.metadata import metadata_validate
from vault.models import Merchant, Token
from vault.services import TokenExpired, TokenNotFound, TokenRevoked, token_reveal

from .errors import (
    CardFieldRefused,
    DestinationAddressRefused,
    DestinationInvalid,
    DestinationMethodRefused,
    DestinationNotRegistered,
    DestinationPathRefused,
    ForwardHeaderRefused,
    ForwardNotFound,
)
from .models import CardField, Forward, ForwardDestination, ForwardMethod
from .templates import BodyTemplate, CardValues, template_fill, template_parse

logger = logging.getLogger(__name__)

# Who reveals cards for the relay, in the vault's audit trail.
RELAY_ACTOR = "checkout:relay"
USER_AGENT = "Tessera-Relay/1.0"
MAX_HEADERS = 20
MAX_HEADER_VALUE = 2000
PURPOSE_MAX_LENGTH = 120
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
# Headers the transport owns, or that would change how the request is framed or routed.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-authorization",
        "proxy-connection",
        "user-agent",
    }
)
_PATH = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$")
_ENCODED_SEPARATOR = re.compile(r"%(2[eEfF]|5[cC])")


# --- destinations (operators) ------------------------------------------------------------------


def destination_clean(
    *, host: str, port: int, path_prefix: str, allowed_fields: list[str]
) -> tuple[str, str, list[str]]:
    """A destination's host, prefix and fields as stored, or ``DestinationInvalid``: the
    same URL rules as webhooks (https, a DNS name or public address, no credentials)."""
    try:
        url = webhook_url_validate(f"https://{host}:{int(port)}{path_prefix or '/'}")
    except (DomainError, ValueError) as exc:
        message = getattr(exc, "message", "") or "The host, port or path prefix is not valid."
        raise DestinationInvalid(message, field="host") from exc
    if url.host != host.lower().rstrip(".") or "?" in url.target:
        raise DestinationInvalid("Give a host name without scheme or path.", field="host")
    prefix = _path_normalise(url.target, field="path_prefix", error=DestinationInvalid)
    fields = sorted(set(allowed_fields))
    unknown = [f for f in fields if f not in CardField.values]
    if unknown:
        raise DestinationInvalid(
            f"Unknown card fields: {', '.join(unknown)}.", field="allowed_fields"
        )
    return url.host, prefix, fields


def destination_register(
    *,
    merchant: Merchant,
    livemode: bool,
    name: str,
    host: str,
    port: int = 443,
    path_prefix: str = "/",
    method: str = ForwardMethod.POST,
    allowed_fields: list[str],
    actor: str,
) -> ForwardDestination:
    """Register a destination (operators only: the admin calls this). Audited."""
    host, prefix, fields = destination_clean(
        host=host, port=port, path_prefix=path_prefix, allowed_fields=allowed_fields
    )
    with transaction.atomic():
        destination = ForwardDestination.objects.create(
            merchant=merchant,
            livemode=livemode,
            name=name,
            host=host,
            port=port,
            path_prefix=prefix,
            method=method,
            allowed_fields=fields,
            created_by=actor,
        )
        audit_record(
            action="forward_destination.register",
            actor=actor,
            object_type="forward_destination",
            object_id=destination.id,
            data=destination_audit_data(destination),
        )
    return destination


def destination_audit_data(destination: ForwardDestination) -> dict[str, object]:
    return {
        "merchant": destination.merchant_id,
        "livemode": destination.livemode,
        "host": destination.host,
        "port": destination.port,
        "path_prefix": destination.path_prefix,
        "method": destination.method,
        "allowed_fields": list(destination.allowed_fields),
        "is_active": destination.is_active,
    }


# --- matching a request to a destination -------------------------------------------------------


def _path_normalise(target: str, *, field: str, error: type[DomainError]) -> str:
    """The path of ``target`` (query dropped), refused if it could climb out of a prefix:
    dot segments, encoded dots, slashes or backslashes, empty segments."""
    path = target.split("?", 1)[0]
    segments = unquote(path).split("/")[1:]
    if (
        not _PATH.match(path)
        or _ENCODED_SEPARATOR.search(path)
        or "//" in path
        or any(segment in (".", "..") for segment in segments)
    ):
        raise error(
            "The path may not contain dot segments, encoded dots or slashes, or empty segments.",
            field=field,
        )
    return path


def _under(path: str, prefix: str) -> bool:
    if prefix == "/" or path == prefix:
        return True
    return path.startswith(prefix if prefix.endswith("/") else prefix + "/")


@dataclass(frozen=True)
class ForwardTarget:
    destination: ForwardDestination
    url: WebhookUrl
    path: str


def forward_target(*, merchant: Merchant, url: str, method: str | None) -> ForwardTarget:
    """The destination ``url`` falls in, for ``merchant``'s mode: raises
    ``DestinationNotRegistered``, ``DestinationPathRefused`` or ``DestinationMethodRefused``.
    Nothing is resolved or sent here."""
    parsed = webhook_url_validate(url, field="url")
    if parsed.scheme != "https":
        raise DestinationNotRegistered("Forwards go over https:// only.", field="url")
    candidates = list(
        ForwardDestination.objects.owned_by(merchant).filter(
            host=parsed.host, port=parsed.port, is_active=True
        )
    )
    if not candidates:
        raise DestinationNotRegistered(
            "No destination is registered for this host in this mode; an operator registers "
            "destinations.",
            field="url",
        )
    path = _path_normalise(parsed.target, field="url", error=DestinationPathRefused)
    inside = sorted(
        (d for d in candidates if _under(path, d.path_prefix)),
        key=lambda d: len(d.path_prefix),
        reverse=True,
    )
    if not inside:
        raise DestinationPathRefused(
            "The path is outside every prefix registered for this host.", field="url"
        )
    wanted = (method or inside[0].method).upper()
    chosen = next((d for d in inside if d.method == wanted), None)
    if chosen is None:
        raise DestinationMethodRefused(
            f"This destination takes {inside[0].method} only.", field="method"
        )
    return ForwardTarget(destination=chosen, url=parsed, path=path)


def _fields_check(*, template: BodyTemplate, destination: ForwardDestination) -> None:
    refused = sorted(template.fields - set(destination.allowed_fields))
    if refused:
        names = ", ".join("{{card." + name + "}}" for name in refused)
        raise CardFieldRefused(
            f"This destination may not receive {names}.",
            errors=[FieldError("body", "card_field_refused", f"Not allowed here: {names}.")],
        )


def forward_headers_clean(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The merchant's headers for the destination (its credentials, say): at most 20, no
    framing or routing headers, no line breaks, no placeholders (cards go in the body only)."""
    cleaned: dict[str, str] = {}
    for name, value in (headers or {}).items():
        field = f"headers.{name}"[:80]
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
            raise ForwardHeaderRefused(f"The header {name[:64]!r} cannot be set.", field=field)
        if (
            not isinstance(value, str)
            or len(value) > MAX_HEADER_VALUE
            or any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value)
        ):
            raise ForwardHeaderRefused(
                "Header values are single-line text of at most 2000 characters.", field=field
            )
        if "{{" in value:
            raise ForwardHeaderRefused("Card placeholders go in the body only.", field=field)
        cleaned[name] = value
    if len(cleaned) > MAX_HEADERS:
        raise ForwardHeaderRefused(f"At most {MAX_HEADERS} headers.", field="headers")
    return cleaned


def _vetted_address(url: WebhookUrl) -> IPAddress:
    try:
        return target_resolve(url)[0]
    except WebhookUrlRefused as exc:
        raise DestinationAddressRefused(
            exc.message.replace("webhooks go", "forwards go"), field="url"
        ) from exc


# --- the forward --------------------------------------------------------------------------------


def forward_create(
    *,
    merchant: Merchant,
    token_id: str,
    url: str,
    body: str,
    purpose: str,
    method: str | None = None,
    headers: Mapping[str, str] | None = None,
    metadata: object = None,
) -> Forward:
    """Send ``token_id``'s card, filled into ``body``, to ``url`` — which must fall inside a
    destination an operator registered for this merchant and mode. Returns the forward:
    ``completed`` (the destination answered; its answer masked) or ``failed`` (timeout,
    TLS, connection, redirect: ``failure_code``). Refusals are raised before anything is
    written or revealed; ``metadata`` is the merchant's, kept with the forward."""
    kept = metadata_validate(metadata)
    target = forward_target(merchant=merchant, url=url, method=method)
    destination = target.destination
    template = template_parse(body)
    _fields_check(template=template, destination=destination)
    extra = forward_headers_clean(headers)
    content_type = next(
        (v for k, v in extra.items() if k.lower() == "content-type"), "application/json"
    )
    purpose = " ".join(str(purpose).split())[:PURPOSE_MAX_LENGTH]
    now = timezone.now()
    token = token_for_charge(merchant=merchant, token_id=token_id, now=now)
    address = _vetted_address(target.url)
    with transaction.atomic():
        forward = Forward.objects.create(
            merchant=merchant,
            livemode=merchant.acting_livemode(),
            destination=destination,
            token=token,
            method=destination.method,
            path=target.path,
            purpose=purpose,
            metadata=kept,
            created_at=now,
        )
        effect_bind(forward.id)
    outcome = _send(
        forward=forward,
        token=token,
        template=template,
        target=target,
        address=address,
        headers={**extra, "Content-Type": content_type},
        content_type=content_type,
    )
    return _forward_settle(forward=forward, outcome=outcome)


def _send(
    *,
    forward: Forward,
    token: Token,
    template: BodyTemplate,
    target: ForwardTarget,
    address: IPAddress,
    headers: dict[str, str],
    content_type: str,
) -> HttpOutcome | str:
    """Reveal, fill, send, forget. Returns the transport's outcome, or the vault's refusal
    code when the token went away since it was checked (nothing was sent)."""
    destination = target.destination
    try:
        revealed = token_reveal(
            token=token,
            purpose=f"forward:{forward.id} to {destination.id} ({destination.host}): "
            f"{forward.purpose or 'unspecified'}",
            actor=RELAY_ACTOR,
        )
    except (TokenRevoked, TokenNotFound):
        return "token_revoked"
    except TokenExpired:
        return "token_expired"
    card = CardValues(
        number=revealed.number,
        exp_month=revealed.exp_month,
        exp_year=revealed.exp_year,
        name=revealed.name or "",
        last4=revealed.last4,
        brand=revealed.brand,
    )
    del revealed
    try:
        payload = template_fill(template, card=card, content_type=content_type)
    finally:
        del card
    try:
        return request_pinned(
            method=destination.method,
            url=target.url,
            address=address,
            body=payload,
            headers={"User-Agent": USER_AGENT, "Accept": "*/*", **headers},
            timeout=float(settings.RELAY_TIMEOUT_SECONDS),
            max_response_bytes=int(settings.RELAY_MAX_RESPONSE_BYTES),
            cafile=settings.RELAY_CA_BUNDLE or None,
        )
    finally:
        del payload


def _forward_settle(*, forward: Forward, outcome: HttpOutcome | str) -> Forward:
    """Record what the destination answered (masked) and audit the forward."""
    now = timezone.now()
    fields: dict[str, object] = {"completed_at": now}
    if isinstance(outcome, str):
        fields.update(status=Forward.Status.FAILED, failure_code=outcome)
    elif outcome.status is not None and 300 <= outcome.status < 400:
        # Never followed: a redirect could lead the card anywhere the operator did not vet.
        fields.update(
            status=Forward.Status.FAILED,
            failure_code="destination_redirected",
            response_status=outcome.status,
            latency_ms=outcome.latency_ms,
        )
    elif outcome.status is None:
        fields.update(
            status=Forward.Status.FAILED,
            failure_code=outcome.error or "connection_failed",
            latency_ms=outcome.latency_ms,
        )
    else:
        fields.update(
            status=Forward.Status.COMPLETED,
            response_status=outcome.status,
            response_content_type=card_data_mask(outcome.content_type),
            response_body=card_data_mask(outcome.data.decode("utf-8", "replace")),
            response_truncated=outcome.truncated,
            latency_ms=outcome.latency_ms,
        )
    with transaction.atomic():
        Forward.objects.filter(pk=forward.pk, status=Forward.Status.PENDING).update(**fields)
        forward.refresh_from_db()
        audit_record(
            action="forward.send",
            outcome=(
                AuditEvent.Outcome.SUCCESS
                if forward.status == Forward.Status.COMPLETED
                else AuditEvent.Outcome.FAILURE
            ),
            actor=RELAY_ACTOR,
            object_type="forward",
            object_id=forward.id,
            reason=forward.failure_code,
            data={
                "merchant": forward.merchant_id,
                "token": forward.token_id,
                "destination": forward.destination_id,
                "method": forward.method,
                "path": forward.path,
                "purpose": forward.purpose,
                "response_status": forward.response_status,
            },
        )
    logger.info(
        "forward sent",
        extra={
            "forward": forward.id,
            "destination": forward.destination_id,
            "status": forward.status,
            "response_status": forward.response_status,
        },
    )
    return forward


def forward_get(*, merchant: Merchant, forward_id: str) -> Forward:
    forward = (
        Forward.objects.owned_by(merchant)
        .select_related("destination")
        .filter(pk=forward_id)
        .first()
    )
    if forward is None:
        raise ForwardNotFound()
    return forward


__all__ = [
    "RELAY_ACTOR",
    "destination_audit_data",
    "destination_clean",
    "destination_register",
    "forward_create",
    "forward_get",
    "forward_headers_clean",
    "forward_target",
]
