"""Celery tasks of monitoring (run by beat; see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from monitoring.audit.chain import chain_anchor_log


@shared_task(name="monitoring.audit_chain_anchor")
def audit_chain_anchor() -> str:
    """Beat: log the audit chain's head, an anchor kept outside the database."""
    return chain_anchor_log()
