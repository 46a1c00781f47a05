"""The shared kernel: the few things every app needs, written once.

- ``ids``: public identifiers (``tok_…``, ``ch_…``): a type prefix and ≥128 random bits.
- ``encoding``: base64url without padding (JOSE, fingerprints, JWK thumbprints).
- ``cards``: the card-number detector (Luhn, 13–19 digits, a security code after its name),
  for input validation and for the log redaction alike.
- ``errors``: domain errors (code, message, field) that know nothing about HTTP.
- ``events``: typed domain events, published after commit.
- ``queries``: small query helpers for selectors.
- ``admin``: the read-only admin mixin.

The kernel imports no app and no API module: every app may use it, it depends on none.
"""
