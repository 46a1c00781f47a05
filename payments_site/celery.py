"""The Celery app: Redis broker from ``CELERY_BROKER_URL`` (defaults to ``REDIS_URL``).

Without a broker, ``CELERY_TASK_ALWAYS_EAGER`` makes ``.delay()`` run the task inline, so a
single-machine deployment needs no worker: cron can run ``manage.py run_billing`` instead.
Configuration lives in Django settings under the ``CELERY_`` prefix.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_site.settings.production")

app = Celery("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
