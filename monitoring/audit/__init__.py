"""The audit trail: the hash chain (``chain``, ``canonical``), its append-only guard
(``guard``), writing events (``services``); export and verification are management commands."""
