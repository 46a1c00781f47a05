"""The verification example in the README is correct: it accepts real deliveries and refuses
altered, wrongly keyed and stale ones (it is extracted from README.md and run as written)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.events import event_record
from checkout.webhooks.signature import signature_header
from tests.checkout.webhooks.conftest import Hooked
from tests.support.servers import ROOT
from vault.models import Token


@pytest.fixture(scope="module")
def readme_verify() -> Callable[..., None]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    (source,) = [b for b in blocks if "def verify_signature(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    verify: Callable[..., None] = namespace["verify_signature"]
    return verify


def test_the_readme_example_verifies_real_deliveries(
    readme_verify: Callable[..., None], hooked: Hooked, token: Token
) -> None:
    event_record(event_type="token.revoked", obj=token)
    deliveries_run()
    (received,) = hooked.receiver.requests
    header = received.headers["Tessera-Signature"]

    readme_verify(received.body, header, hooked.secret)

    with pytest.raises(ValueError, match="mismatch"):
        readme_verify(received.body + b" ", header, hooked.secret)
    with pytest.raises(ValueError, match="mismatch"):
        readme_verify(received.body, header, "whsec_someone_else")
    with pytest.raises(ValueError, match="malformed"):
        readme_verify(received.body, None, hooked.secret)
    stale = signature_header(
        payload=received.body, secrets=[hooked.secret], timestamp=int(time.time()) - 301
    )
    with pytest.raises(ValueError, match="too old"):
        readme_verify(received.body, stale, hooked.secret)
