from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff_user(db: None) -> Any:
    return get_user_model().objects.create_superuser(
        "ops", email="ops@example.com", password=ADMIN_PASSWORD
    )
