"""Idempotency: records bound to merchants' keys (``models``, ``services``) and the
``Idempotency-Key`` header on the API (``api``)."""
