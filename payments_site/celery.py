"""The Celery app: Redis broker from ``CELERY_BROKER_URL`` (defaults to ``REDIS_URL``).

Without a broker, ``CELERY_TASK_ALWAYS_EAGER`` makes ``.delay()`` run the task inline, so a
single-machine deployment needs no worker: cron can run ``manage.py run_billing`` instead.
Configuration lives in Django settings under the ``CELERY_`` prefix.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_site.settings.production")

app = Celery("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(task: Any = None, **_: Any) -> None:
    """What Django does around each request: drop connections that are broken or older than
    ``CONN_MAX_AGE``, keep the rest (``CELERY_DB_REUSE_MAX`` stops Celery closing them all).
    Inline (eager) tasks run inside their caller's connection and transaction: left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
