"""Celery (``payments_site/celery.py``): Redis broker; no broker → tasks run inline. Beat's
whole schedule is here."""

from __future__ import annotations

from .cache import REDIS_URL
from .environment import env
from .monitoring import AUDIT_SEAL_INTERVAL_SECONDS

CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER: bool = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    # Inline tasks still pass through a producer (Celery serialises them as if sent): the
    # in-memory transport keeps it from reaching for an AMQP broker on localhost (and from
    # kombu's "No hostname was supplied" warning on every task).
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_QUEUE", default="tessera")
# At-least-once: a task is acknowledged after it ran, and redelivered if its worker died.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Celery's Django fixup closes the DB connection around every task unless told to reuse it: a
# new PostgreSQL connection per task cost ~4× the billing throughput here. Connections are
# instead recycled like requests' (CONN_MAX_AGE, health checks) in payments_site/celery.py.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BEAT_SCHEDULE = {
    "billing-enqueue-due": {"task": "checkout.tasks.billing_enqueue_due", "schedule": 60.0},
    "charges-reconcile": {"task": "checkout.tasks.charges_reconcile", "schedule": 300.0},
    "idempotency-purge": {"task": "checkout.tasks.idempotency_purge", "schedule": 3600.0},
    "authorizations-expire": {"task": "checkout.tasks.authorizations_expire", "schedule": 600.0},
    "checkout-sessions-expire": {
        "task": "checkout.tasks.checkout_sessions_expire",
        "schedule": 60.0,
    },
    # Seal committed audit events, sign the head now and then (expires: runs never pile up).
    "audit-seal": {
        "task": "monitoring.audit_seal",
        "schedule": AUDIT_SEAL_INTERVAL_SECONDS,
        "options": {"expires": 2 * AUDIT_SEAL_INTERVAL_SECONDS},
    },
    "webhooks-enqueue-due": {"task": "checkout.webhooks.enqueue_due", "schedule": 30.0},
    "webhooks-events-purge": {"task": "checkout.webhooks.events_purge", "schedule": 3600.0},
}
