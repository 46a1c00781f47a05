"""``docs/rules.md`` is the one table of card-testing rules × entry paths; these tests are
generated from it.

Per cell, two tests. *Counted*: with only that rule on, firing at its first event, drive every
kind of attempt the path can make and see whether the rule raised an alert naming the path's
own source. *Enforced*: cool the rule's scope off for the source the path's next attempt has,
send a good card and see whether the path refuses it (429) without a charge or a usable token.
A cell that says neither must show neither. Then the table itself is checked against the code:
every rule, every entry path and every call of a function that attempts a card.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.conf import settings as django_settings
from django.test import Client, TestCase
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_bill, subscription_create
from checkout.clock import clock_now
from checkout.payments.models import Charge
from checkout.payments.services import charge_reconcile
from checkout.sessions.transport import card_encrypt, card_seal
from monitoring.security.cooloff import cooloff_start
from monitoring.security.counters import counter_store
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import DEFAULT_RULES, api_client_source
from tests.checkout.sessions.conftest import DECLINED, LUHN_WRONG, VISA, card, jwe_for, keys  # noqa: F401
from tests.checkout.sessions.test_views import page_url, raw_post
from tests.factories import CheckoutSessionFactory, IssuedKeyFactory, TokenFactory
from tests.vault.conftest import keyring_path, template_keyring  # noqa: F401
from vault.keys import KeyService
from vault.merchants import IssuedKey
from vault.models import Merchant, Token

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "docs" / "rules.md"
Scope = SecurityAlert.Scope
ADDRESS = "203.0.113.40"
# Tried in this order: an approved card completes a checkout session, so it comes last.
OUTCOMES = ("invalid", "bad_jwt", "replay", "declined", "approved")


# --- the table ---------------------------------------------------------------------------------


def _section(title: str) -> list[list[str]]:
    """The rows (cells stripped) of the markdown table under ``## title``."""
    text = TABLE.read_text()
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("|")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows[2:]]


def _matrix() -> tuple[list[str], dict[str, dict[str, str]]]:
    text = TABLE.read_text()
    body = text.split("## Rules × entry paths\n", 1)[1]
    header = next(line for line in body.splitlines() if line.startswith("|"))
    paths = [cell.strip() for cell in header.strip("|").split("|")][1:]
    cells = {
        row[0]: dict(zip(paths, row[1:], strict=True)) for row in _section("Rules × entry paths")
    }
    return paths, cells


PATHS, CELLS = _matrix()
VALUES = {"counted, enforced", "counted", "enforced", "—"}
CELL_IDS = [(rule, path) for rule in CELLS for path in PATHS]


# --- one driver per entry path -----------------------------------------------------------------


@dataclass
class Attempt:
    refused: bool  # answered "wait" (429 or postponed)


@dataclass
class Path_:
    """One entry path, set up for one merchant at one address: ``sources`` are the ids its
    attempts carry (by scope), ``attempt(outcome)`` makes one."""

    merchant: Merchant
    keys: KeyService
    supports: ClassVar[tuple[str, ...]] = ("declined", "approved")
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The approved card's fingerprint for this merchant: a cool-off on it must stop it.
        visa = TokenFactory.create(merchant=self.merchant, number=VISA)
        self.sources[Scope.FINGERPRINT] = visa.fingerprint
        # Only a declined card feeds a fingerprint rule: that card's is the one counted.
        self.declined_fingerprint = TokenFactory.create(
            merchant=self.merchant, number=DECLINED
        ).fingerprint
        self.sources[Scope.MERCHANT] = self.merchant.pk
        self.setup()

    def setup(self) -> None: ...

    def attempt(self, outcome: str) -> Attempt:
        raise NotImplementedError


class _Page(Path_):
    nojs: ClassVar[bool] = False

    def setup(self) -> None:
        self.session = CheckoutSessionFactory.create(merchant=self.merchant)
        self.client = Client(REMOTE_ADDR=ADDRESS)
        self.sources.update({Scope.IP: ADDRESS, Scope.SESSION: self.session.pk})

    def attempt(self, outcome: str) -> Attempt:
        if outcome == "bad_jwt":  # a JWE made for another checkout
            other = CheckoutSessionFactory.create(merchant=self.merchant)
            self.session.refresh_from_db()
            data = {"nonce": self.session.nonce, "card_jwe": jwe_for(other), "name": "Ada"}
        else:
            number = {"invalid": LUHN_WRONG, "declined": DECLINED, "approved": VISA}[outcome]
            if self.nojs:
                data = raw_post(self.session, number)
            else:
                card_jwe = jwe_for(self.session, number)  # reads the page's current nonce
                data = {"nonce": self.session.nonce, "card_jwe": card_jwe, "name": "Ada"}
        response = self.client.post(page_url(self.session), data)
        return Attempt(refused=response.status_code == 429)


class PageJs(_Page):
    supports = ("invalid", "bad_jwt", "declined", "approved")


class PageNojs(_Page):
    supports = ("invalid", "declined", "approved")
    nojs = True


class VaultIngest(Path_):
    supports = ("invalid", "bad_jwt", "replay", "declined", "approved")
    session_id = "cs_vaultpath"

    def setup(self) -> None:
        self.client = Client(REMOTE_ADDR=ADDRESS)
        self.sources.update({Scope.IP: ADDRESS, Scope.SESSION: self.session_id})

    def _sealed(self, number: str) -> bytes:
        jwe = card_encrypt(card(number), session_id=self.session_id, nonce="n", keys=self.keys)
        return card_seal(
            jwe,
            session_id=self.session_id,
            nonce="n",
            merchant_id=self.merchant.pk,
            client_ip=ADDRESS,
            keys=self.keys,
        ).encode()

    def _post(self, body: bytes) -> int:
        return int(
            self.client.post(
                "/vault/v1/cards", data=body, content_type="application/jwt"
            ).status_code
        )

    def attempt(self, outcome: str) -> Attempt:
        if outcome == "bad_jwt":
            return Attempt(refused=self._post(b"a.b.c") == 429)
        number = {"invalid": LUHN_WRONG, "declined": DECLINED}.get(outcome, VISA)
        body = self._sealed(number)
        status = self._post(body)
        if outcome == "replay":
            status = self._post(body)
        return Attempt(refused=status == 429)


class _Keyed(Path_):
    def setup(self) -> None:
        issued: IssuedKey = IssuedKeyFactory.create(merchant=self.merchant)
        self.client = APIClient(REMOTE_ADDR=ADDRESS)
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
        client = api_client_source(merchant_id=self.merchant.pk, ip=ADDRESS)
        assert client is not None
        self.sources.update({Scope.IP: ADDRESS, Scope.CLIENT: client})
        # The merchant's tokens, made before any cool-off (the attempt is the charge).
        self.tokens = {
            outcome: TokenFactory.create(
                merchant=self.merchant, number=DECLINED if outcome == "declined" else VISA
            )
            for outcome in self.supports
        }

    def _token(self, outcome: str) -> Token:
        return self.tokens[outcome]


class ApiCharges(_Keyed):
    def attempt(self, outcome: str) -> Attempt:
        body = {"token": self._token(outcome).pk, "amount": 700, "currency": "EUR"}
        response = self.client.post("/api/v1/charges", body, format="json")
        assert response.status_code in (201, 429), response.json()
        return Attempt(refused=response.status_code == 429)


class ApiSubscriptions(_Keyed):
    def attempt(self, outcome: str) -> Attempt:
        body = {"token": self._token(outcome).pk, "amount": 700, "currency": "EUR"}
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                "/api/v1/subscriptions", {**body, "interval": "day"}, format="json"
            )
        assert response.status_code in (201, 429), response.json()
        return Attempt(refused=response.status_code == 429)


class Renewal(Path_):
    """Subscriptions made before any cool-off; ``attempt`` bills the due period."""

    def setup(self) -> None:
        self.due: dict[str, Subscription] = {}
        for outcome in self.supports:
            number = DECLINED if outcome == "declined" else VISA
            token = TokenFactory.create(merchant=self.merchant, number=number)
            self.due[outcome] = subscription_create(
                merchant=self.merchant, token_id=token.pk, amount=700, currency="EUR",
                interval="day",
            )  # fmt: skip

    def attempt(self, outcome: str) -> Attempt:
        subscription = self.due[outcome]
        charge = subscription_bill(subscription_id=subscription.pk, now=clock_now())
        subscription.refresh_from_db()
        due = subscription.next_billing_at
        return Attempt(refused=charge is None and due is not None and due > clock_now())


class Reconcile(Path_):
    """Charges left pending (their answer lost) before any cool-off; ``attempt`` settles one."""

    def setup(self) -> None:
        self.pending: dict[str, Charge] = {}
        for outcome in self.supports:
            number = DECLINED if outcome == "declined" else VISA
            token = TokenFactory.create(merchant=self.merchant, number=number)
            self.pending[outcome] = Charge.objects.create(
                merchant=self.merchant, token=token, amount=700, currency="EUR",
                processor=django_settings.PROCESSOR_BACKEND.rsplit(".", 1)[-1],
                created_at=clock_now(),
            )  # fmt: skip

    def attempt(self, outcome: str) -> Attempt:
        charge = charge_reconcile(charge_id=self.pending[outcome].pk)
        return Attempt(refused=charge.status == Charge.Status.PENDING)


DRIVERS: dict[str, type[Path_]] = {
    "page_js": PageJs,
    "page_nojs": PageNojs,
    "vault_ingest": VaultIngest,
    "api_charges": ApiCharges,
    "api_subscriptions": ApiSubscriptions,
    "renewal": Renewal,
    "reconcile": Reconcile,
}


@pytest.fixture
def only_rule(settings: SettingsWrapper) -> Callable[..., None]:
    def switch_on(name: str, **spec: Any) -> None:
        overrides: dict[str, Any] = {other: None for other in DEFAULT_RULES if other != name}
        overrides[name] = spec
        settings.ANOMALY_RULES = overrides

    return switch_on


def _usable_tokens_and_charges() -> tuple[int, int]:
    charged = Charge.objects.exclude(status=Charge.Status.PENDING).count()
    return Token.objects.filter(status=Token.Status.ACTIVE).count(), charged


# --- the cells -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("rule", "path"), CELL_IDS, ids=[f"{r}×{p}" for r, p in CELL_IDS])
def test_counted(
    rule: str,
    path: str,
    merchant: Merchant,
    keys: KeyService,  # noqa: F811
    only_rule: Callable[..., None],
) -> None:
    # given only this rule on, firing at its first event and cooling nobody off
    only_rule(rule, threshold=1, min_events=1, jump=0.0, cooloff_seconds=0)
    driver = DRIVERS[path](merchant=merchant, keys=keys)

    # when the path makes every kind of attempt it can, until the rule fires
    for outcome in (o for o in OUTCOMES if o in driver.supports):
        driver.attempt(outcome)
        if SecurityAlert.objects.filter(rule=rule).exists():
            break

    # then the rule counted the path (under the path's own source) exactly when the table says
    alerts = list(SecurityAlert.objects.filter(rule=rule).values_list("scope", "source"))
    expected = CELLS[rule][path]
    assert expected in VALUES
    if "counted" in expected:
        scope = DEFAULT_RULES[rule]["scope"]
        source = (
            driver.declined_fingerprint if scope == Scope.FINGERPRINT else driver.sources[scope]
        )
        assert alerts == [(scope, source)]
    else:
        assert alerts == []


@pytest.mark.django_db
@pytest.mark.parametrize(("rule", "path"), CELL_IDS, ids=[f"{r}×{p}" for r, p in CELL_IDS])
def test_enforced(
    rule: str,
    path: str,
    merchant: Merchant,
    keys: KeyService,  # noqa: F811
    only_rule: Callable[..., None],
) -> None:
    only_rule(rule)
    driver = DRIVERS[path](merchant=merchant, keys=keys)
    scope = DEFAULT_RULES[rule]["scope"]
    source = driver.sources.get(scope)
    expected = CELLS[rule][path]
    if source is None:  # the path carries no id of this scope: nothing to enforce
        assert "enforced" not in expected
        return

    # given the rule's scope cooling off for the source of the path's next attempt
    cooloff_start(counter_store(), scope=scope, source=source, seconds=600, now=time.time())
    before = _usable_tokens_and_charges()

    # when a good card comes that way
    result = driver.attempt("approved")

    # then it waits, with nothing charged and no token handed out, exactly when the table says
    after = _usable_tokens_and_charges()
    if "enforced" in expected:
        assert result.refused
        assert after == before
    else:
        assert not result.refused
        assert after != before


# --- the table against the code ----------------------------------------------------------------


def test_every_rule_is_in_the_table_and_only_those() -> None:
    assert list(CELLS) == list(DEFAULT_RULES)


def test_every_entry_path_has_a_row_a_column_and_a_driver() -> None:
    described = [row[0] for row in _section("Entry paths")]
    assert described == PATHS == list(DRIVERS)


# Functions that attempt a card: each call of one is a way in, or plumbing between them.
ATTEMPTS = frozenset(
    {
        "card_ingest",
        "token_create",
        "checkout_session_complete",
        "charge_create",
        "charge_execute",
        "charge_reconcile",
        "subscription_create",
        "subscription_bill",
        "processor_charge_token",
    }
)
PACKAGES = ("checkout", "vault", "monitoring", "payments_site")


class _Calls(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.stack = [module]
        self.found: set[tuple[str, str]] = set()

    def _scoped(self, node: ast.AST, name: str) -> None:
        self.stack.append(name)
        self.generic_visit(node)
        self.stack.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node, node.name)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in ATTEMPTS:
            self.found.add((".".join(self.stack), name))
        self.generic_visit(node)


def _call_sites() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in file.parts:
                continue
            module = ".".join(file.relative_to(ROOT).with_suffix("").parts)
            visitor = _Calls(module)
            visitor.visit(ast.parse(file.read_text()))
            found |= visitor.found
    return found


def test_every_call_of_a_card_attempt_is_in_the_table() -> None:
    rows = _section("Call sites")
    documented = {(caller, callee) for caller, callee, _ in rows}
    for _, _, paths in rows:
        if paths != "internal" and not paths.startswith("not a path:"):
            assert set(re.split(r",\s*", paths)) <= set(PATHS), paths

    assert _call_sites() == documented


# --- the two ways through that the table closes ------------------------------------------------


@pytest.mark.django_db
def test_one_card_declined_again_and_again_stops_reaching_the_processor(
    merchant: Merchant,
    keys: KeyService,  # noqa: F811
) -> None:
    # given one declined card tried on nine new checkouts from nine addresses
    statuses = []
    for n in range(9):
        session = CheckoutSessionFactory.create(merchant=merchant)
        page = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        statuses.append(page.post(page_url(session), raw_post(session, DECLINED)).status_code)

    # then the fifth decline raised the alert and the card reached the processor no more
    assert statuses == [402] * 5 + [429] * 4
    assert Charge.objects.count() == 5
    alert = SecurityAlert.objects.get(rule="declines.fingerprint")
    assert alert.cooloff_until is not None
    # and the merchant's own API cannot charge that card either while it cools off
    token = TokenFactory.create(merchant=merchant, number=DECLINED)
    issued: IssuedKey = IssuedKeyFactory.create(merchant=merchant)
    api = APIClient(REMOTE_ADDR=ADDRESS)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    body = {"token": token.pk, "amount": 700, "currency": "EUR"}
    assert api.post("/api/v1/charges", body, format="json").status_code == 429
    assert (
        api.post("/api/v1/subscriptions", {**body, "interval": "day"}, format="json").status_code
        == 429
    )
    assert Charge.objects.count() == 5


@pytest.mark.django_db
def test_a_client_card_testing_on_charges_cannot_carry_on_with_subscriptions(
    merchant: Merchant,
    keys: KeyService,  # noqa: F811
    settings: SettingsWrapper,
) -> None:
    settings.ANOMALY_RULES = {"card_testing.declines.client": {"min_events": 4}}
    issued: IssuedKey = IssuedKeyFactory.create(merchant=merchant)
    api = APIClient(REMOTE_ADDR=ADDRESS)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")

    # given three declined subscriptions' first charges and one declined charge from one client
    statuses = []
    for _ in range(3):
        token = TokenFactory.create(merchant=merchant, number=DECLINED)
        body = {"token": token.pk, "amount": 700, "currency": "EUR", "interval": "day"}
        with TestCase.captureOnCommitCallbacks(execute=True):
            statuses.append(api.post("/api/v1/subscriptions", body, format="json").status_code)
    token = TokenFactory.create(merchant=merchant, number=DECLINED)
    body = {"token": token.pk, "amount": 700, "currency": "EUR"}
    statuses.append(api.post("/api/v1/charges", body, format="json").status_code)

    # then the subscriptions' first charges counted against the client: it cools off on both
    assert statuses == [201, 201, 201, 201]
    client = api_client_source(merchant_id=merchant.pk, ip=ADDRESS)
    assert (
        SecurityAlert.objects.filter(rule="card_testing.declines.client", source=client).count()
        == 1
    )
    fresh = TokenFactory.create(merchant=merchant, number=VISA)
    body = {"token": fresh.pk, "amount": 700, "currency": "EUR"}
    assert api.post("/api/v1/charges", body, format="json").status_code == 429
    assert (
        api.post("/api/v1/subscriptions", {**body, "interval": "day"}, format="json").status_code
        == 429
    )
    assert Charge.objects.filter(token=fresh).count() == 0
