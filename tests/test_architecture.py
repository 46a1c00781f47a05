"""The architecture, checked: no import cycle anywhere, no import hidden in a function, and
the table of domain events with who hears each. The allowed arrows between packages are
import-linter contracts in pyproject.toml (``make lint``)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import grimp

from checkout.billing.events import (
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionPastDue,
    SubscriptionRenewed,
    SubscriptionUpdated,
)
from checkout.billing.services import (
    subscriptions_on_customer_deleted,
    subscriptions_on_merchant_reactivated,
    subscriptions_on_token_revoked,
)
from checkout.billing.tasks import bill_first_period
from checkout.customers.events import (
    CustomerCardAttached,
    CustomerCardDetached,
    CustomerCreated,
    CustomerDeleted,
    CustomerUpdated,
)
from checkout.customers.services import customer_cards_on_fingerprint_rekeyed
from checkout.payments.events import (
    ChargeAuthorized,
    ChargeCaptured,
    ChargeExpired,
    ChargeFailed,
    ChargeReleased,
    ChargeSucceeded,
    RefundFailed,
    RefundSucceeded,
)
from checkout.sessions.events import CheckoutSessionCompleted, CheckoutSessionExpired
from checkout.webhooks.delivery import DeliveriesDue
from checkout.webhooks.events import events_on_domain_event
from checkout.webhooks.tasks import deliveries_hand_off
from payments_site.kernel.events import DomainEvent, subscriptions
from vault.events import MerchantReactivated, TokenFingerprintRekeyed, TokenRevoked

PACKAGES = ("payments_site", "checkout", "vault", "monitoring")
ROOT = Path(__file__).resolve().parent.parent


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph.find_modules_directly_imported_by(module):
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)

    assert len(graph.modules) > 150  # the whole project was read
    assert _cycles(graph) == []


def test_no_import_is_placed_inside_a_function() -> None:
    # Django loads AppConfig.ready() before it may import models: that is the one place.
    placed = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if function.name == "ready" and path.name == "apps.py":
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        placed.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert placed == []


def _project_event_types() -> set[type[DomainEvent]]:
    for package in ("checkout", "vault", "monitoring"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)
    found: set[type[DomainEvent]] = set()
    pending = list(DomainEvent.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return {c for c in found if not c.__name__.endswith("Event")}  # bases are not published


def test_every_domain_event_and_who_hears_it() -> None:
    webhooks = events_on_domain_event
    expected = {
        TokenRevoked: (subscriptions_on_token_revoked, webhooks),
        TokenFingerprintRekeyed: (customer_cards_on_fingerprint_rekeyed,),
        MerchantReactivated: (subscriptions_on_merchant_reactivated,),
        ChargeSucceeded: (webhooks,),
        ChargeFailed: (webhooks,),
        ChargeAuthorized: (webhooks,),
        ChargeCaptured: (webhooks,),
        ChargeReleased: (webhooks,),
        ChargeExpired: (webhooks,),
        RefundSucceeded: (webhooks,),
        RefundFailed: (webhooks,),
        SubscriptionCreated: (webhooks, bill_first_period),
        SubscriptionUpdated: (webhooks,),
        SubscriptionRenewed: (webhooks,),
        SubscriptionPastDue: (webhooks,),
        SubscriptionCanceled: (webhooks,),
        CheckoutSessionCompleted: (webhooks,),
        CheckoutSessionExpired: (webhooks,),
        DeliveriesDue: (deliveries_hand_off,),
        CustomerCreated: (webhooks,),
        CustomerUpdated: (webhooks,),
        CustomerDeleted: (subscriptions_on_customer_deleted, webhooks),
        CustomerCardAttached: (webhooks,),
        CustomerCardDetached: (webhooks,),
    }

    heard = {event: handlers for event, handlers in subscriptions().items() if handlers}

    assert heard == expected
    assert _project_event_types() == set(expected)  # a new event is listed here on purpose
