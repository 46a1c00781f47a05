"""``python -m tests.bench [NAME…] [--cards N]``: run the registered benches on a fresh DB."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_site.settings.test")
os.environ.setdefault("ENV_FILE", "/dev/null")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("names", nargs="*", help="run only benches whose name starts with these")
    parser.add_argument("--cards", type=int, default=5000)
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from tests.bench import MODULES
    from tests.bench.registry import BENCHES, BenchContext

    for module in MODULES:
        importlib.import_module(module)
    selected = [b for b in BENCHES if not args.names or b.name.startswith(tuple(args.names))]

    db = settings.DATABASES["default"]
    test = db.setdefault("TEST", {})
    if db["ENGINE"].endswith("sqlite3"):
        test["NAME"] = str(settings.RUN_DIR / "bench-db.sqlite3")
    else:
        test["NAME"] = f"{db['NAME']}_bench"
    setup_test_environment(debug=False)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        for bench in selected:
            print(f"\n== {bench.name} ({args.cards} cards, {db['ENGINE'].rsplit('.', 1)[-1]}) ==")  # noqa: T201
            bench.fn(BenchContext(cards=args.cards))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
