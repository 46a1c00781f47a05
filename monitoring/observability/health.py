"""Readiness checks. Each is a callable that raises when its dependency is not usable."""

from __future__ import annotations

from django.db import connection

from monitoring.security.counters import counter_store


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_counters() -> None:
    """The counter store answers: without it no card-testing rule counts and no cool-off holds,
    so an app server that cannot reach Redis should take no traffic."""
    counter_store().get_int("health:ready")
