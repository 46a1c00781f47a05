"""Billing: subscriptions on tokens, the billing calendar (``schedule.py``), dunning, and the
runner's tasks. Charges go through payments, which billing sits on; billing knows nothing of
the hosted page or webhooks."""
