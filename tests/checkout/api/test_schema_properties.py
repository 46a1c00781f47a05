"""In-process schemathesis over every operation of the OpenAPI schema (the API, the vault's
card ingest and its JWKS) with a merchant's key: a bounded number of generated requests per
operation and mode (valid and invalid data), each answered without a 5xx and as the schema
says. The longer run against gunicorn, with stateful links, is ``test_schema_fuzz.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payments_site.wsgi import application
from tests.checkout.api import schemathesis_hooks  # noqa: F401  (application/jwt bodies)
from tests.factories import TokenFactory
from tests.monitoring.support import monitoring_counters_reset
from vault.merchants import IssuedKey

pytestmark = pytest.mark.django_db
EXAMPLES_PER_OPERATION = 6
# The same checks as the gunicorn run: no 5xx, and every answer as the schema documents it.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db: None) -> Iterator[schemathesis.BaseSchema]:
    # Requests run in the test's transaction, as under Django's test client: the handler must
    # not close the connection at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_answers_without_a_5xx_and_as_documented(
    api_schema: schemathesis.BaseSchema, issued_key: IssuedKey
) -> None:
    TokenFactory.create(merchant=issued_key.api_key.merchant)  # something real to find
    auth = {"Authorization": f"Bearer {issued_key.secret}"}
    results = list(api_schema.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)]  # the schema loads whole
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    statuses: list[int] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def answers(case: schemathesis.Case) -> None:
                monitoring_counters_reset()  # each case on its own: no cool-off answers it
                statuses.append(case.call_and_validate(headers=auth, checks=CHECKS).status_code)

            try:
                answers()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters)

    paths = {operation.path for operation in operations}
    assert {"/vault/v1/cards", "/.well-known/jwks.json", "/api/v1/charges"} <= paths
    assert len(operations) >= 24
    assert len(statuses) >= len(operations) * 2
    assert [s for s in statuses if s >= 500] == []
