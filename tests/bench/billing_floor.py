"""The billing bench's floor: a renewal task that does only what any renewal must (claim the
due row under a skip-locked row lock and commit, then advance it to its next period and
commit), with no charge at all. Two workers running it show how far two Celery workers,
PostgreSQL and Redis sharing this machine's cores can scale, whatever billing does."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import transaction

from checkout.billing.models import Subscription


@shared_task(name="bench.billing_claim_only")
def billing_claim_only(subscription_id: str, now: str) -> bool:
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=subscription_id, next_billing_at__lte=datetime.fromisoformat(now))
            .first()
        )
        if subscription is None:
            return False
        subscription.next_billing_at = None
        subscription.save(update_fields=["next_billing_at"])
    subscription.period += 1
    subscription.next_billing_at = datetime.fromisoformat("2099-01-01T00:00:00+00:00")
    subscription.save(update_fields=["period", "next_billing_at"])
    return True
