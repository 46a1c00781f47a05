"""DRF authentication by merchant API key: ``Authorization: Bearer sk_test_…``."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from monitoring.observability.clientip import client_ip
from monitoring.security.lockout import (
    credential_failure_record,
    credential_lockout_check,
    credential_prefix,
)

from .merchants import api_key_lookup
from .models import ApiKey, Merchant


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Merchant, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        ip = client_ip(request._request)
        scheme, _, secret = header.partition(" ")
        secret = secret.strip() if scheme.lower() == "bearer" else ""
        # Lockout (monitoring): a locked (address, key prefix) pair gets 429 before any key is
        # looked up; keys of other prefixes from the same address are not affected.
        prefix = credential_prefix(secret)
        credential_lockout_check(kind="api_key", ip=ip, prefix=prefix)
        if not secret:
            credential_failure_record(kind="api_key", ip=ip, prefix=prefix)
            raise exceptions.AuthenticationFailed(
                "Use 'Authorization: Bearer sk_…' with one of your API keys."
            )
        api_key = api_key_lookup(secret=secret)
        if api_key is None:
            credential_failure_record(kind="api_key", ip=ip, prefix=prefix)
            raise exceptions.AuthenticationFailed("The API key is not valid or has been revoked.")
        return api_key.merchant, api_key

    def authenticate_header(self, request: Request) -> str:
        # A non-empty value makes DRF answer 401 (not 403) when credentials are missing.
        return 'Bearer realm="tessera"'


def request_merchant(request: Request) -> Merchant:
    """The merchant behind an API-key-authenticated request (typed for the views)."""
    if not isinstance(request.user, Merchant):
        raise exceptions.NotAuthenticated()
    return request.user


def request_api_key(request: Request) -> ApiKey:
    if not isinstance(request.auth, ApiKey):
        raise exceptions.NotAuthenticated()
    return request.auth
