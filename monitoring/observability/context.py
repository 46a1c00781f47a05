"""Per-request context shared by logs and audit events without threading it through calls."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
source_ip_var: ContextVar[str | None] = ContextVar("source_ip", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


def current_source_ip() -> str | None:
    return source_ip_var.get()
