"""Payments: charges, refunds, their reconciliation, idempotency and the processors.

Transaction boundaries are explicit and short, and no processor call ever runs inside one: a
row is written (pending), committed, the processor is called, then the outcome is written in a
second transaction. What must commit with an outcome (a subscription's schedule) is handed in
by the caller as ``on_settled``; everything else hears of it through the events published
after commit (``events.py``). Payments import nothing of billing, sessions or webhooks.
"""
