"""The page's static files: their weight, the import list SRI covers, and integrity hashes
that hold under whitenoise's manifest storage as deployed (after ``collectstatic``)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client, override_settings

from checkout.sessions.assets import (
    BRAND_MARKS,
    PAGE_MODULE,
    PAGE_MODULE_IMPORTS,
    PAGE_STYLESHEET,
)
from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.html import parse
from vault.keys import KeyService

BUDGET_GZIPPED = 30 * 1024
_IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["'](\./[^"']+)["']""", re.M)


def source(name: str) -> Path:
    found = finders.find(name)
    assert isinstance(found, str), name
    return Path(found)


def imports_of(name: str) -> set[str]:
    """Every module ``name`` pulls in, transitively, as static names."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        folder = current.rsplit("/", 1)[0]
        for relative in _IMPORT.findall(source(current).read_text()):
            target = f"{folder}/{relative[2:]}"
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def test_sri_covers_every_module_the_page_imports() -> None:
    assert imports_of(PAGE_MODULE) == set(PAGE_MODULE_IMPORTS)


def test_all_javascript_css_and_brand_marks_weigh_under_30_kb_gzipped() -> None:
    # Every brand mark counts, though a page loads at most one.
    names = [PAGE_MODULE, *PAGE_MODULE_IMPORTS, PAGE_STYLESHEET, *BRAND_MARKS.values()]

    gzipped = sum(len(gzip.compress(source(n).read_bytes(), compresslevel=9)) for n in names)

    assert gzipped <= BUDGET_GZIPPED, f"{gzipped} bytes gzipped"


@pytest.mark.parametrize("brand", sorted(BRAND_MARKS))
def test_each_brand_has_a_self_contained_svg_mark(brand: str) -> None:
    from xml.etree import ElementTree

    from vault.cards import BRANDS

    text = source(BRAND_MARKS[brand]).read_text()
    root = ElementTree.fromstring(text)  # noqa: S314 (our own file, in the repository)
    svg = "{http://www.w3.org/2000/svg}"

    assert root.tag == f"{svg}svg"
    assert root.findtext(f"{svg}title") == BRANDS[brand].label
    for element in root.iter():
        assert element.tag.removeprefix(svg) not in {"script", "foreignObject", "image", "use"}
        for name in element.attrib:
            assert not name.lower().startswith("on"), name
            assert not name.endswith("href"), name  # nothing fetched from anywhere
    assert "url(" not in text and "@import" not in text
    assert len(gzip.compress(text.encode(), compresslevel=9)) < 1024


@pytest.mark.slow
@pytest.mark.django_db
def test_integrity_matches_the_files_served_under_the_manifest_storage(
    keys: KeyService,
    session_factory: Callable[..., CheckoutSession],
    tmp_path: Path,
) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    root = tmp_path / "static"
    session = session_factory()
    with override_settings(STORAGES=storages, STATIC_ROOT=root, WHITENOISE_USE_FINDERS=False):
        # (Django's test signals reset the static files storage for the new STORAGES.)
        call_command("collectstatic", "--noinput", "-v", "0")
        html = Client().get(f"/checkout/{session.pk}/").content.decode()

    elements = parse(html)
    checked = [e.attrs for e in elements if e.attrs.get("integrity")]
    urls = [str(a.get("src") or a.get("href")) for a in checked]
    assert len(checked) == 4
    assert re.fullmatch(r"/static/checkout/checkout\.[0-9a-f]{12}\.js", urls[-1])
    assert re.fullmatch(r"/static/checkout/checkout\.[0-9a-f]{12}\.css", urls[0])
    for attrs, url in zip(checked, urls, strict=True):
        served = (root / url.removeprefix("/static/")).read_bytes()
        digest = base64.b64encode(hashlib.sha384(served).digest()).decode()
        assert attrs["integrity"] == f"sha384-{digest}", url
