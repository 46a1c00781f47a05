"""Merchant webhooks: events recorded once the change they report is committed, pushed to the
merchant's HTTPS endpoints, signed, retried for about three days, SSRF-safe.

Modules: ``models``; ``events`` (the domain events heard, recorded as webhook events),
``payloads`` and ``serializers`` (the documents sent); ``signature`` (the scheme, and the
verifier merchants can copy), ``addresses`` (which URLs and IP addresses may be called),
``transport`` (one pinned HTTP POST), ``secrets`` (signing secrets encrypted at rest),
``services`` (endpoints), ``delivery`` (scheduling and attempts), ``selectors``, ``api``,
``urls``, ``tasks``, ``admin``.
"""
