"""Transport fixtures: a key service (local keyring by default; the end-to-end suites also run
on AWS KMS through moto_server over HTTP) and a valid card."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.vault.conftest import (  # noqa: F401  (fixtures re-exported for this package)
    KmsAccount,
    keyring_path,
    moto_http,
    moto_http_account,
    template_keyring,
    use_aws,
)
from vault.keys import KeyService, get_key_service


@pytest.fixture(params=["local"])
def keys_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["strict"])
def keys_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def keys(
    keys_backend: str,
    keys_mode: str,
    request: pytest.FixtureRequest,
    settings: SettingsWrapper,
    keyring_path: Path,  # noqa: F811
) -> Iterator[KeyService]:
    settings.KEYS_MODE = keys_mode
    if keys_backend == "local":
        settings.KEYS_BACKEND = settings.KEY_BACKENDS["local"]
        settings.LOCAL_KEYRING_PATH = keyring_path
    else:
        use_aws(settings, request.getfixturevalue("moto_http_account"))
    get_key_service.cache_clear()
    yield get_key_service()
    get_key_service.cache_clear()


@pytest.fixture
def card() -> dict[str, Any]:
    return {
        "number": "4242424242424242",
        "exp_month": 12,
        "exp_year": dt.datetime.now(dt.UTC).year + 3,
        "cvc": "123",
        "name": "Ada Lovelace",
    }


BOTH_BACKENDS = pytest.mark.parametrize("keys_backend", ["local", "moto_server"], indirect=True)
BOTH_MODES = pytest.mark.parametrize("keys_mode", ["strict", "working"], indirect=True)
