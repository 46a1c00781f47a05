"""Celery tasks of every checkout domain (Celery's autodiscovery imports this module)."""

from checkout.billing.tasks import *  # noqa: F403
from checkout.billing.tasks import __all__  # noqa: F401
