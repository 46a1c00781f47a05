from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_inline_sealing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seals come from the test's own calls only (beat's stand-in), so each test knows which
    seals exist; the inline fallback's own test puts it back."""
    monkeypatch.setattr("monitoring.audit.services.seal_soon", lambda: None)
