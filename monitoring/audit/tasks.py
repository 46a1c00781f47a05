"""Celery tasks of the audit trail (run by beat; see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from monitoring.audit.sealer import seal_pending


@shared_task(name="monitoring.audit_seal")
def audit_seal() -> dict[str, object]:
    """Beat, every second: seal committed events; sign the head when the interval is up."""
    outcome = seal_pending()
    return {
        "seal": outcome.seal.number if outcome.seal else None,
        "sealed": outcome.sealed,
        "signed": outcome.signed,
        "held_back": outcome.held_back,
        "refused": outcome.refused,
    }
