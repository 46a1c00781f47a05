"""Merchant-facing REST API for charges and subscriptions (thin views over the services)."""
