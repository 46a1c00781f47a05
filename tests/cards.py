"""The public test cards (a copy of ../shared/testdata/cards.json, kept with the tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def load_cards() -> dict[str, Any]:
    return json.loads((DATA / "cards.json").read_text())
