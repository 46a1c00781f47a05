"""Readiness checks. Each is a callable that raises when its dependency is not usable."""

from __future__ import annotations

from django.db import connection


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
