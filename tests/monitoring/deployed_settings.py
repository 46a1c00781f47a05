"""The test settings, served the way production serves the payment page: static files
collected into ``STATIC_ROOT`` under content-hashed names (Django's manifest storage, whose
names whitenoise's production storage shares) and HSTS on. For the live check of the hosted
page's script inventory (``test_payment_page_check.py``)."""

from __future__ import annotations

import os
from pathlib import Path

from payments_site.settings.test import *  # noqa: F403

STATIC_ROOT = Path(os.environ["TEST_STATIC_ROOT"])
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False  # serve what collectstatic wrote, like production
WHITENOISE_AUTOREFRESH = True  # (but notice files the test changes while serving)
SECURE_HSTS_SECONDS = 31_536_000  # as payments_site/settings/production.py
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# A header the test changes on a second server, as a bad deploy would.
X_FRAME_OPTIONS = os.environ.get("TEST_X_FRAME_OPTIONS", "DENY")
