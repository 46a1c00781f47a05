"""Card transport, vault side: the strict JOSE parsing and the ingest pipeline.

The checkout seals (``checkout/transport.py``); this package trusts nothing it receives.
"""
