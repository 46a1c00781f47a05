"""``manage.py check_payment_page URL``: the payment page loads only inventoried scripts, with
unchanged SRI hashes, and keeps its security headers (PCI DSS 6.4.3, 11.6.1).

Run it after every deploy and at least weekly (cron/CI); exit status 1 on any finding.
``--record FILE`` writes an inventory from the live page instead, for review: scripts by
logical static name and SRI of their content, loads (script, module, modulepreload), headers;
justifications already in FILE are kept, a new script gets "TODO", which the check refuses
until someone writes why the page needs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.pagecheck import inventory_load, page_check, page_inventory_record
from payments_site.kernel.jsontext import json_parse


class Command(BaseCommand):
    help = "Check the live payment page's scripts and security headers against the inventory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--inventory", help="default: settings.PAYMENT_PAGE_INVENTORY")
        parser.add_argument("--cafile", help="CA bundle to trust (e.g. a self-signed cert)")
        parser.add_argument("--timeout", type=float, default=10.0)
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--record", metavar="FILE", help="write an inventory and stop")
        parser.add_argument("--static-url", help="default: settings.STATIC_URL")

    def handle(self, *args: Any, **options: Any) -> None:
        verify: bool | str = options["cafile"] or True
        try:
            if options["record"]:
                target = Path(options["record"])
                inventory = page_inventory_record(
                    url=options["url"],
                    verify=verify,
                    timeout=options["timeout"],
                    static_url=options["static_url"],
                    previous=json_parse(target.read_text()) if target.is_file() else None,
                )
                target.write_text(json.dumps(inventory, indent=2, ensure_ascii=False) + "\n")
                todo = sum(1 for s in inventory["scripts"] if s["justification"] == "TODO")
                self.stdout.write(
                    f"wrote {target}: {len(inventory['scripts'])} script(s), "
                    f"{todo} without a justification yet"
                )
                return
            path = Path(options["inventory"] or settings.PAYMENT_PAGE_INVENTORY)
            if not path.is_file():
                raise CommandError(f"No payment-page inventory at {path}")
            report = page_check(
                url=options["url"],
                inventory=inventory_load(path),
                verify=verify,
                timeout=options["timeout"],
                static_url=options["static_url"],
            )
        except (requests.RequestException, ValueError) as exc:
            raise CommandError(f"Could not check {options['url']}: {exc}") from exc

        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            for note in report.notes:
                self.stdout.write(f"note: {note}")
            for finding in report.findings:
                self.stdout.write(f"FAIL: {finding}")
        if not report.ok:
            raise CommandError(f"{len(report.findings)} finding(s) on {report.url}")
        self.stdout.write(
            f"ok: {report.url} loads {report.checked_scripts} inventoried script(s); "
            "headers unchanged"
        )
