"""Key-service fixtures: every vault test that asks for ``key_service`` runs on the local
backend, on AWS KMS faked by moto in-process, and on moto_server over real HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from moto import mock_aws
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.support.kms import (
    REGION,
    MotoServer,
    bootstrap_keys,
    moto_server,
    patch_moto_kms,
    use_fake_credentials,
)
from vault.envelope import data_keys
from vault.fingerprints import subkeys
from vault.keys import KeyPurpose, KeyService, get_key_service
from vault.keys.aws import AwsKmsKeyService
from vault.keys.local import LocalKeyService
from vault.transport.ingest import merchants

BACKENDS = ["local", "moto", "moto_server"]


@dataclass
class KmsAccount:
    """Keys created by ``kms_bootstrap`` in a fake account; ``endpoint_url`` None = in-process."""

    values: dict[str, str]
    endpoint_url: str | None


@pytest.fixture(scope="session")
def template_keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated keyring (RSA-3072 takes a moment), copied for each test."""
    path = tmp_path_factory.mktemp("keyring") / "keyring.json"
    LocalKeyService(path).health_check()
    return path


@pytest.fixture
def keyring_path(template_keyring: Path, tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "keyring.json"
    path.parent.mkdir(mode=0o700)
    shutil.copy2(template_keyring, path)
    return path


@pytest.fixture(scope="module")
def moto_account() -> Iterator[KmsAccount]:
    """moto in-process (module-wide, so keys are made once per module)."""
    patch_moto_kms()
    use_fake_credentials()
    with mock_aws():
        yield KmsAccount(values=bootstrap_keys(), endpoint_url=None)


@pytest.fixture(scope="session")
def moto_http() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def moto_http_account(moto_http: MotoServer) -> KmsAccount:
    return KmsAccount(
        values=bootstrap_keys(moto_http.endpoint_url), endpoint_url=moto_http.endpoint_url
    )


def use_aws(settings: SettingsWrapper, account: KmsAccount) -> None:
    settings.KEYS_BACKEND = settings.KEY_BACKENDS["aws"]
    settings.KMS_REGION = REGION
    settings.AWS_ENDPOINT_URL = account.endpoint_url or ""
    for name, value in account.values.items():
        setattr(settings, name, value)


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def key_service(
    backend_name: str,
    request: pytest.FixtureRequest,
    settings: SettingsWrapper,
    keyring_path: Path,
) -> Iterator[KeyService]:
    """The configured backend as the application resolves it (``get_key_service()``)."""
    if backend_name == "local":
        settings.KEYS_BACKEND = settings.KEY_BACKENDS["local"]
        settings.LOCAL_KEYRING_PATH = keyring_path
    elif backend_name == "moto":
        use_aws(settings, request.getfixturevalue("moto_account"))
    else:
        use_aws(settings, request.getfixturevalue("moto_http_account"))
    get_key_service.cache_clear()
    yield get_key_service()
    get_key_service.cache_clear()


@pytest.fixture
def disable_key(key_service: KeyService) -> Iterator[Callable[[KeyPurpose], None]]:
    """Disable one of the backend's KMS keys for this test (re-enabled afterwards)."""
    assert isinstance(key_service, AwsKmsKeyService), "parametrize backend_name with aws ones"
    client = key_service.client
    disabled: list[str] = []

    def disable(purpose: KeyPurpose) -> None:
        alias = key_service.config.key_ids[purpose]
        key_id = client.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
        client.disable_key(KeyId=key_id)
        disabled.append(key_id)

    yield disable
    for key_id in disabled:
        client.enable_key(KeyId=key_id)


AWS_BACKENDS = pytest.mark.parametrize("backend_name", ["moto", "moto_server"])


@pytest.fixture(autouse=True)
def _fresh_data_key_cache() -> Iterator[None]:
    """Each test starts without cached data keys, fingerprint subkeys or merchants (they may
    belong to another test's DB or keyring)."""
    data_keys.clear()
    subkeys.clear()
    merchants.forget()
    yield
    data_keys.clear()
    subkeys.clear()
    merchants.forget()
