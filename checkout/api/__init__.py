"""What every checkout API module shares (pagination, problem documentation, the per-key
throttle, OpenAPI extensions). It imports no checkout domain: each domain's ``api.py`` sits on
it."""
