"""Merchant webhooks (issue 8): events written with the change they report, pushed to the
merchant's HTTPS endpoints, signed, retried for about three days, SSRF-safe.

Modules: ``signature`` (the scheme, and the verifier merchants can copy), ``addresses``
(which URLs and IP addresses may be called), ``transport`` (one pinned HTTP POST),
``secrets`` (signing secrets encrypted at rest), ``events`` (recording events), ``services``
(endpoints), ``delivery`` (scheduling and attempts), ``selectors``, ``api``, ``tasks``,
``admin``. Models live in ``checkout/models/webhooks.py``.
"""
