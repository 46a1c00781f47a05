#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_site.settings.development")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    # A misconfiguration is one line naming the variable, not a traceback (settings raise
    # ImproperlyConfigured for every unusable variable while they are imported).
    try:
        settings.INSTALLED_APPS  # noqa: B018 — imports and so validates the settings
    except ImproperlyConfigured as error:
        sys.stderr.write(f"ImproperlyConfigured: {error}\n")
        raise SystemExit(2) from None
    try:
        execute_from_command_line(sys.argv)
    except OperationalError as error:
        # An unreachable or refusing database (DATABASE_URL) is an operator's problem too.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        sys.stderr.write(f"Database unavailable (DATABASE_URL): {reason}\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
