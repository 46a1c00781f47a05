"""Observability: structured logs and their redaction, metrics, Sentry, health checks, the
request id and the client's address."""
