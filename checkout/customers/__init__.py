"""Customers: the people a merchant bills, their saved cards and the default one."""
