"""Settings for servers started by the checkout benches: the test settings plus a bare DRF
insert endpoint (the baseline) mounted next to the real API."""

from payments_site.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False}  # benches measure, they do not log
