"""The app behind ``tests.support.hang_settings``: a hook that hangs once a new row commits."""

from __future__ import annotations

import time
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save


def _hang_after_commit(*, created: bool, **_: Any) -> None:
    if created:
        transaction.on_commit(
            lambda: time.sleep(getattr(settings, "HANG_AFTER_COMMIT_SECONDS", 60))
        )


class HangAfterCommitConfig(AppConfig):
    name = "tests.support"
    label = "hang_after_commit"

    def ready(self) -> None:
        for label in getattr(settings, "HANG_AFTER_COMMIT", []):
            post_save.connect(_hang_after_commit, sender=apps.get_model(label), weak=False)
