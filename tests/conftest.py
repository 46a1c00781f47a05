"""Fixtures shared by every suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from payments_site.devtools import write_cert
from tests.factories import IssuedKeyFactory, MerchantFactory
from tests.monitoring.support import (
    allow_test_flush,
    monitoring_counters_reset,
    otp_verified_login,
)
from vault.merchants import IssuedKey
from vault.models import Merchant

# --- monitoring: the audit trail is append-only; lift its guard for the test flush only ------
allow_test_flush()


@pytest.fixture(autouse=True)
def _monitoring_counters_reset() -> None:
    """Lockout and anomaly counters start from zero in every test."""
    monitoring_counters_reset()


@pytest.fixture
def admin_client(db: None, admin_user: Any) -> Any:
    """pytest-django's ``admin_client``, but with the second factor the admin site requires."""
    from django.test import Client

    return otp_verified_login(Client(), admin_user)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def merchant(db: None) -> Merchant:
    return MerchantFactory.create(name="Acme Books")


@pytest.fixture
def issued_key(merchant: Merchant) -> IssuedKey:
    return IssuedKeyFactory.create(merchant=merchant)


@pytest.fixture
def api_client(issued_key: IssuedKey) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}")
    return client
