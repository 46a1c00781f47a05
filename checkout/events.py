"""Domain events of the checkout, for outer apps (merchant webhooks) that checkout must not
import: ``settings.CHECKOUT_EVENT_HOOKS`` lists dotted paths called as
``hook(event_type="charge.succeeded", obj=<Charge>)``.

Hooks run inside the transaction of the state change they describe, so an event is recorded if
and only if the change commits (a hook that raises rolls the change back). Event types:
``charge.succeeded``, ``charge.failed``, ``refund.succeeded``, ``refund.failed``,
``subscription.created``, ``subscription.updated``, ``subscription.renewed``,
``subscription.past_due``, ``subscription.canceled``, ``checkout.session.completed``.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Model
from django.utils.module_loading import import_string


def event_emit(*, event_type: str, obj: Model) -> None:
    for dotted in settings.CHECKOUT_EVENT_HOOKS:
        import_string(dotted)(event_type=event_type, obj=obj)
