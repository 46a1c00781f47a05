"""factory_boy factories: every test object is made the way the product makes it.

``create()`` goes through the services (``merchant_create``, ``token_create``,
``checkout_session_create``…), so audit events, validation and encryption happen as in
production; ``build()`` gives an unsaved model where no database is needed. The card numbers
are the public test cards of ``tests/data/cards.json``.
"""

from __future__ import annotations

from typing import Any

import factory

from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_create
from tests.cards import load_cards
from vault.cards import card_validate
from vault.merchants import IssuedKey, api_key_create, merchant_create
from vault.models import ApiKey, Merchant, Token
from vault.services import token_create

APPROVED = load_cards()["approve"][0]["number"]


class MerchantFactory(factory.django.DjangoModelFactory[Merchant]):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Shop {n}")

    @classmethod
    def _create(cls, model_class: type[Merchant], *args: Any, **kwargs: Any) -> Merchant:
        # Acting in test mode, as a test key would; ``.in_mode(True)`` for live.
        return merchant_create(name=kwargs["name"]).in_mode(False)


class IssuedKeyFactory(factory.Factory[IssuedKey]):
    """A merchant's API key with its secret, which exists only in the returned object."""

    class Meta:
        model = IssuedKey

    merchant = factory.SubFactory(MerchantFactory)
    mode = ApiKey.Mode.TEST

    @classmethod
    def _create(cls, model_class: type[IssuedKey], *args: Any, **kwargs: Any) -> IssuedKey:
        return api_key_create(merchant=kwargs["merchant"], mode=kwargs["mode"])


class TokenFactory(factory.django.DjangoModelFactory[Token]):
    """A vault token for a public test card (``number``), sealed by the real ``token_create``."""

    class Meta:
        model = Token

    merchant = factory.SubFactory(MerchantFactory)
    number = APPROVED
    exp_month = 12
    exp_year = 2034

    @classmethod
    def _create(cls, model_class: type[Token], *args: Any, **kwargs: Any) -> Token:
        card = card_validate(
            number=kwargs["number"],
            exp_month=kwargs["exp_month"],
            exp_year=kwargs["exp_year"],
            require_cvc=False,
        )
        return token_create(merchant=kwargs["merchant"], card=card, actor="test")


class CheckoutSessionFactory(factory.django.DjangoModelFactory[CheckoutSession]):
    """A hosted checkout session, ``payment`` mode by default; ``setup`` takes no amount."""

    class Meta:
        model = CheckoutSession

    merchant = factory.SubFactory(MerchantFactory)
    mode = CheckoutSession.Mode.PAYMENT
    amount = factory.Maybe(
        factory.LazyAttribute(lambda s: s.mode != CheckoutSession.Mode.SETUP), 1999, None
    )
    currency = factory.Maybe(
        factory.LazyAttribute(lambda s: s.mode != CheckoutSession.Mode.SETUP), "EUR", ""
    )
    interval = factory.Maybe(
        factory.LazyAttribute(lambda s: s.mode == CheckoutSession.Mode.SUBSCRIPTION), "month", ""
    )
    success_url = "https://shop.example/thanks"
    cancel_url = "https://shop.example/cart"

    @classmethod
    def _create(
        cls, model_class: type[CheckoutSession], *args: Any, **kwargs: Any
    ) -> CheckoutSession:
        return checkout_session_create(**kwargs)
