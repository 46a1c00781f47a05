"""WSGI entry point for gunicorn. Defaults to production settings: a server that forgot to say
which settings it wants must get the strict ones."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_site.settings.production")

try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:
    # One line naming the variable; gunicorn then stops with "App failed to load" (exit 4).
    sys.stderr.write(f"ImproperlyConfigured: {error}\n")
    raise SystemExit(4) from None
