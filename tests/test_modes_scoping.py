"""Every merchant-scoped query goes through ``owned_by`` (merchant and mode together).

A query that narrows by ``merchant=`` / ``merchant_id=`` alone would see both modes of that
merchant; this scan of the application code (not tests, not migrations) finds any such call,
so a resource added later cannot forget the mode. Writes set ``livemode`` explicitly (the
column has no default, so a forgotten one fails on insert).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checkout", "vault", "monitoring", "payments_site")
QUERY_METHODS = {"filter", "exclude", "get", "get_or_create", "update_or_create", "first"}
MERCHANT_LOOKUPS = {"merchant", "merchant_id", "merchant__pk", "merchant__id"}
# Where a merchant filter is the point: the helper itself, and operator tools that show both
# modes on purpose (the admin filters by merchant and, separately, by mode).
ALLOWED = {
    "vault/models/merchants.py",
}


def _app_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name == "admin.py":
                continue
            files.append(path)
    return files


def _merchant_only_queries(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in QUERY_METHODS:
            continue
        keywords = {k.arg for k in node.keywords if k.arg}
        decides_mode = any(k == "livemode" or k.startswith("livemode__") for k in keywords)
        if keywords & MERCHANT_LOOKUPS and not decides_mode:
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_query_narrows_by_merchant_without_its_mode() -> None:
    offenders = [
        where
        for path in _app_files()
        if str(path.relative_to(ROOT)) not in ALLOWED
        for where in _merchant_only_queries(path)
    ]
    assert offenders == [], "use Model.objects.owned_by(merchant): " + ", ".join(offenders)


def test_the_scan_finds_a_merchant_only_query(tmp_path: Path) -> None:
    """The check above can fail: a query of the old kind is found."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "Charge.objects.filter(merchant=merchant, pk=charge_id).first()\n"
        "Charge.objects.owned_by(merchant).filter(pk=charge_id).first()\n"
        "Charge.objects.filter(merchant_id=m, livemode=True)\n"
        "Charge.objects.filter(merchant_id=m, livemode__in=(False, True))\n"
    )
    assert _merchant_only_queries(sample, root=tmp_path) == ["sample.py:1"]
