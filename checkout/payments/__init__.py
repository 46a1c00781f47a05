"""Checkout services: every state change of charges, refunds and subscriptions lives here.

Transaction boundaries are explicit and short, and no processor call ever runs inside one: a
row is written (pending), committed, the processor is called, then the outcome is written in a
second transaction. Code that must happen atomically with a state change (e.g. recording a
webhook event) belongs inside ``charge_settle`` / ``subscription_charge_settled``.
"""
