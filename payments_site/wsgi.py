"""WSGI entry point for gunicorn. Defaults to production settings: a server that forgot to say
which settings it wants must get the strict ones."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_site.settings.production")

application = get_wsgi_application()
