"""The real server on the aws backend against moto_server, both over real HTTP."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.support.kms import REGION, MotoServer, server_settings
from tests.support.servers import gunicorn
from tests.vault.conftest import KmsAccount

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_gunicorn_on_kms_is_ready_and_reports_a_disabled_key(
    moto_http: MotoServer, moto_http_account: KmsAccount
) -> None:
    env = server_settings(moto_http_account.values, moto_http.endpoint_url)
    client = boto3.client("kms", region_name=REGION, endpoint_url=moto_http.endpoint_url)
    key_id = client.describe_key(KeyId="alias/tessera-vault")["KeyMetadata"]["KeyId"]

    with gunicorn(cert=None, workers=1, env=env) as server:
        ready = server.get("/readyz")
        client.disable_key(KeyId=key_id)
        try:
            not_ready = server.get("/readyz")
        finally:
            client.enable_key(KeyId=key_id)

    assert (ready[0], json.loads(ready[2])["checks"]) == (
        200,
        {"database": "ok", "counters": "ok", "keys": "ok"},
    )
    assert (not_ready[0], json.loads(not_ready[2])["checks"]["keys"]) == (503, "unavailable")
