"""A local HTTPS fake of Adyen's Checkout API v71, held to Adyen's own published contract.

Every request is validated against ``CheckoutService-v71.json`` (the operation's request body
schema, through ``openapi-schema-validator``) and must carry ``X-API-Key`` and an
``Idempotency-Key``; every answer the fake gives is validated against the response schema the
spec declares for that operation and status before it is sent, so the fake can only say what
Adyen may say. Anything off is kept in ``violations`` (and a bad request is answered 422 as
Adyen would). Like Adyen, the fake is idempotent: a request with a key it has answered is
answered again with the first answer, and does nothing more.

What it answers is decided by the card number (``outcomes``) and by a script of faults for the
next requests: ``"500"``, ``"lost"`` (the effect is made, then the answer is delayed past the
client's timeout), ``"hang"`` (no effect, no answer in time).

Like Adyen, each capture, cancel and refund it accepts (``received``) is confirmed later by a
notification: the fake queues one per modification (``queued``), built as Adyen builds them —
each body validated against the request schema of its event in Adyen's webhooks spec
(``Webhooks-v1.json``) and each item signed with HMAC-SHA256 over Adyen's documented field
concatenation — and ``deliver`` posts them to a notification URL, as Adyen does.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from checkout.payments.processors.adyen_hmac import item_signature

# Adyen's published specs, copied unchanged (tests/data/adyen/README.md says from where).
SPEC_PATH = Path(__file__).resolve().parents[3] / "data" / "adyen" / "CheckoutService-v71.json"
SPEC_URI = "urn:adyen:checkout:v71"
WEBHOOKS_SPEC_PATH = SPEC_PATH.with_name("Webhooks-v1.json")
WEBHOOKS_SPEC_URI = "urn:adyen:webhooks:v1"
# The HMAC key of the fake's notification configuration (hex, as the Customer Area shows it).
HMAC_KEY = "9A1B3C5D7E9F0A2B4C6D8E0F1A3B5C7D9E1F2A4B6C8D0E2F4A6B8C0D2E4F6A8B"
# Which notification confirms each modification.
MODIFICATION_EVENTS = {"capture": "CAPTURE", "cancel": "CANCELLATION", "refund": "REFUND"}
API_KEY = "AQE-test-key-for-the-fake"
MERCHANT_ACCOUNT = "TesseraECOM"

_OPERATIONS = (
    (re.compile(r"^/v71/payments$"), "/payments", "payment"),
    (
        re.compile(r"^/v71/payments/([^/]+)/captures$"),
        "/payments/{paymentPspReference}/captures",
        "capture",
    ),
    (
        re.compile(r"^/v71/payments/([^/]+)/cancels$"),
        "/payments/{paymentPspReference}/cancels",
        "cancel",
    ),
    (
        re.compile(r"^/v71/payments/([^/]+)/refunds$"),
        "/payments/{paymentPspReference}/refunds",
        "refund",
    ),
)


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012)
    )


@cache
def _validator(ref: str) -> OAS31Validator:
    return OAS31Validator({"$ref": SPEC_URI + ref}, registry=_registry())


def schema_errors(ref: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:300]
        for e in _validator(ref).iter_errors(document)
    ]


@cache
def webhooks_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(WEBHOOKS_SPEC_PATH.read_text())
    return loaded


@cache
def _webhooks_validator(event_code: str) -> OAS31Validator:
    operation = webhooks_spec()["webhooks"][f"/{event_code}"]["post"]
    registry = Registry().with_resource(
        WEBHOOKS_SPEC_URI,
        Resource.from_contents(webhooks_spec(), default_specification=DRAFT202012),
    )
    return OAS31Validator(
        {"$ref": WEBHOOKS_SPEC_URI + _ref(operation["requestBody"])}, registry=registry
    )


def notification_errors(body: dict[str, Any]) -> list[str]:
    """What in a notification body Adyen's webhooks spec refuses, for the event of its items."""
    events = {w["NotificationRequestItem"]["eventCode"] for w in body["notificationItems"]}
    unknown = sorted(e for e in events if f"/{e}" not in webhooks_spec()["webhooks"])
    if unknown:
        return [f"{event}: no such webhook in the spec" for event in unknown]
    return [
        f"{event}: {'/'.join(map(str, e.absolute_path))}: {e.message}"[:300]
        for event in sorted(events)
        for e in _webhooks_validator(event).iter_errors(body)
    ]


def notification_body(
    event_code: str,
    *,
    psp: str,
    reference: str,
    amount: dict[str, Any],
    original: str = "",
    success: bool = True,
    reason: str = "",
    live: bool = False,
    key: str = HMAC_KEY,
) -> dict[str, Any]:
    """One notification as Adyen posts it: a ``NotificationRequest`` of one signed item, valid
    for ``event_code`` in the webhooks spec (``ValueError`` otherwise: the fake cannot send
    what Adyen would not)."""
    item: dict[str, Any] = {
        "amount": dict(amount),
        "eventCode": event_code,
        "eventDate": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "merchantAccountCode": MERCHANT_ACCOUNT,
        "merchantReference": reference,
        "pspReference": psp,
        "success": "true" if success else "false",
    }
    if original:
        item["originalReference"] = original
    if reason:
        item["reason"] = reason
    if event_code in ("CAPTURE", "REFUND", "CANCELLATION"):
        item["paymentMethod"] = "visa"
    item["additionalData"] = {"hmacSignature": item_signature(item, key)}
    body = {
        "live": "true" if live else "false",
        "notificationItems": [{"NotificationRequestItem": item}],
    }
    errors = notification_errors(body)
    if errors:
        raise ValueError(f"not a notification Adyen sends: {errors}")
    return body


def _ref(content: dict[str, Any]) -> str:
    return str(content["content"]["application/json"]["schema"]["$ref"])


def request_ref(spec_path: str) -> str:
    return _ref(spec()["paths"][spec_path]["post"]["requestBody"])


def response_ref(spec_path: str, status: int) -> str:
    return _ref(spec()["paths"][spec_path]["post"]["responses"][str(status)])


def psp_reference() -> str:
    return "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(16))


@dataclass
class FakeAdyen:
    port: int
    # card number → ("Authorised",) | ("Refused", code, reason) | ("RedirectShopper",) | …
    outcomes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    script: list[str] = field(default_factory=list)
    lost_delay: float = 3.0
    violations: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Effects actually made (not replays): payment, capture, cancel, refund.
    effects: Counter[str] = field(default_factory=Counter)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Notifications owed for accepted modifications, oldest first (``deliver`` posts them).
    queued: list[dict[str, Any]] = field(default_factory=list)
    live: bool = False
    # Modification kind → (success, reason) of its notification (default: success).
    modification_outcomes: dict[str, tuple[bool, str]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"https://localhost:{self.port}/v71"

    # --- the API ----------------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        match = next(
            ((m, spec_path, kind) for rx, spec_path, kind in _OPERATIONS if (m := rx.match(path))),
            None,
        )
        if match is None:
            self.violations.append(f"no such operation: {path}")
            return 404, {
                "status": 404,
                "errorCode": "000",
                "message": "Not found",
                "errorType": "validation",
            }
        found, spec_path, kind = match
        if headers.get("x-api-key") != API_KEY:
            return self._answer(
                spec_path,
                401,
                {
                    "status": 401,
                    "errorCode": "000",
                    "message": "HTTP Status Response - Unauthorized",
                    "errorType": "security",
                },
            )
        key = headers.get("idempotency-key", "")
        if not key or len(key) > 64:
            self.violations.append(f"{kind}: Idempotency-Key missing or longer than 64")
        try:
            body = json.loads(raw)
        except ValueError:
            self.violations.append(f"{kind}: body is not JSON")
            return self._answer(
                spec_path, 422, _error(422, "702", "Structure of the request is invalid")
            )
        errors = schema_errors(request_ref(spec_path), body)
        if errors:
            self.violations.extend(f"{kind}: {e}" for e in errors)
            return self._answer(spec_path, 422, _error(422, "702", errors[0]))
        with self.lock:
            self.requests.append({"kind": kind, "key": key, "body": body})
            if key in self.answers:  # Adyen's idempotency: the first answer, nothing more
                return self.answers[key]
            fault = self.script.pop(0) if self.script else ""
        if fault == "500":
            return self._answer(
                spec_path, 500, _error(500, "905", "Payment details are not supported")
            )
        if fault == "hang":
            time.sleep(self.lost_delay)
            return self._answer(spec_path, 500, _error(500, "905", "late"))
        if fault == "422":
            return self._answer(spec_path, 422, _error(422, "137", "Invalid amount specified"))
        if body.get("merchantAccount") != MERCHANT_ACCOUNT:
            return self._answer(
                spec_path, 403, _error(403, "901", "Invalid Merchant Account", "security")
            )
        status, answer = (
            self._payment(body)
            if kind == "payment"
            else self._modification(kind, found.group(1), body)
        )
        result = self._answer(spec_path, status, answer)
        with self.lock:
            self.answers[key] = result
        if fault == "lost":
            time.sleep(self.lost_delay)
        return result

    def _payment(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        number = body["paymentMethod"].get("number", "")
        outcome = self.outcomes.get(number, ("Authorised",))
        psp = psp_reference()
        answer: dict[str, Any] = {
            "pspReference": psp,
            "resultCode": outcome[0],
            "merchantReference": body["reference"],
            "amount": body["amount"],
        }
        if outcome[0] == "Refused":
            answer["refusalReasonCode"], answer["refusalReason"] = outcome[1], outcome[2]
        if outcome[0] in ("RedirectShopper", "ChallengeShopper"):
            answer["action"] = {
                "type": "redirect" if outcome[0] == "RedirectShopper" else "threeDS2",
                "paymentMethodType": "scheme",
                **(
                    {"url": "https://test.adyen.com/hpp/3d/validate.shtml", "method": "GET"}
                    if outcome[0] == "RedirectShopper"
                    else {"token": "eyJ0aHJlZURT", "subtype": "challenge"}
                ),
            }
        if outcome[0] == "Authorised":
            self.effects["payment"] += 1
            self.payments[psp] = {
                "amount": body["amount"]["value"],
                "currency": body["amount"]["currency"],
                "captured": 0,
                "manual": body.get("additionalData", {}).get("manualCapture") == "true",
                "cancelled": False,
            }
        return 200, answer

    def _modification(
        self, kind: str, psp: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        payment = self.payments.get(psp)
        if payment is None:
            return 422, _error(422, "167", "Original pspReference required for this operation")
        amount = body.get("amount", {}).get("value", 0)
        if kind == "capture" and (amount > payment["amount"] or payment["cancelled"]):
            return 422, _error(422, "137", "Invalid amount specified")
        self.effects[kind] += 1
        if kind == "capture":
            payment["captured"] = amount
        if kind == "cancel":
            payment["cancelled"] = True
        answer: dict[str, Any] = {
            "merchantAccount": body["merchantAccount"],
            "paymentPspReference": psp,
            "pspReference": psp_reference(),
            "status": "received",
        }
        if "reference" in body:
            answer["reference"] = body["reference"]
        if kind != "cancel":
            answer["amount"] = body["amount"]
        success, reason = self.modification_outcomes.get(kind, (True, ""))
        self.queued.append(
            notification_body(
                MODIFICATION_EVENTS[kind],
                psp=answer["pspReference"],
                original=psp,
                reference=str(body.get("reference", "")),
                amount=body.get("amount")
                or {"currency": payment["currency"], "value": payment["amount"]},
                success=success,
                reason=reason,
                live=self.live,
            )
        )
        return 201, answer

    def deliver(self, url: str, *, verify: str | bool = True, timeout: float = 10.0) -> list[int]:
        """Post every queued notification to ``url`` as Adyen does; keep those not answered
        ``[accepted]`` (Adyen retries them). Returns the HTTP statuses."""
        statuses = []
        with self.lock:
            owed, self.queued = self.queued, []
        for body in owed:
            response = requests.post(url, json=body, timeout=timeout, verify=verify)
            statuses.append(response.status_code)
            if response.status_code != 200 or response.content != b"[accepted]":
                with self.lock:
                    self.queued.append(body)
        return statuses

    def _answer(
        self, spec_path: str, status: int, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        errors = schema_errors(response_ref(spec_path, status), body)
        if errors:
            self.violations.extend(f"answer {status}: {e}" for e in errors)
        return status, body


def _error(status: int, code: str, message: str, kind: str = "validation") -> dict[str, Any]:
    return {"status": status, "errorCode": code, "message": message, "errorType": kind}


def _handler(fake: FakeAdyen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = fake.handle(self.path, headers, raw)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a lost answer)

    return Handler


@contextmanager
def fake_adyen(*, certfile: str, keyfile: str) -> Iterator[FakeAdyen]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    fake = FakeAdyen(port=server.server_address[1])
    server.RequestHandlerClass = _handler(fake)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
