"""Security monitoring: card-testing rules (``rules``), the engine that counts and fires them
(``engine``), counters, cool-offs and their HTTP answers (``cooloff``, ``http``), API-key
lockout, and the admin site with its second factor (``admin_site``, ``mfa``)."""
