"""The hosted page's static files, each with a Subresource Integrity hash of what is served.

The page loads one ES module (``checkout/checkout.js``) which imports ``./card.js`` and
``./jwe.js``. ``<script integrity>`` only covers the entry module, so the page also lists each
import as ``<link rel="modulepreload" integrity>``: the browser fetches it once, checks it, and
the import then uses that checked copy. A file that fails its check never runs; the form still
works without JavaScript.

Hashes are computed at render time from the file the server actually serves (the hashed copy
under whitenoise's manifest storage, the source file when static files come from the finders),
cached per file version. Imports are relative and the manifest storage does not rewrite them,
so under it the dependencies are the un-hashed copies that ``collectstatic`` also writes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.templatetags.static import static

from vault.cards import BRAND_RULES

PAGE_MODULE = "checkout/checkout.js"
# Everything checkout.js imports, directly or not (kept in step by a test).
PAGE_MODULE_IMPORTS = ("checkout/card.js", "checkout/jwe.js")
PAGE_STYLESHEET = "checkout/checkout.css"
# The card brand marks: self-hosted SVG images (no script, nothing third-party), one per brand
# the card rules know; the page loads only the one for the number being typed.
BRAND_MARKS = {rule.brand: f"checkout/brands/{rule.brand}.svg" for rule in BRAND_RULES}


@dataclass(frozen=True)
class Asset:
    url: str
    integrity: str


@dataclass(frozen=True)
class PageAssets:
    module: Asset
    preloads: tuple[Asset, ...]
    stylesheet: Asset


def _served_path(name: str) -> Path:
    """The file whitenoise answers with for ``name`` (a stored name): like whitenoise, the
    finders first when ``WHITENOISE_USE_FINDERS`` (tests, development), else ``STATIC_ROOT``."""
    candidates: list[Path] = []
    if getattr(settings, "WHITENOISE_USE_FINDERS", False):
        found = finders.find(name)
        if found:
            candidates.append(Path(found if isinstance(found, str) else found[0]))
    candidates.append(Path(staticfiles_storage.path(name)))
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"static file not found: {name}")


@functools.lru_cache(maxsize=64)
def _sri(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha384(Path(path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def integrity(path: Path) -> str:
    """``sha384-…`` of the file's bytes, recomputed when the file changes."""
    stat = path.stat()
    return _sri(str(path), stat.st_mtime_ns, stat.st_size)


def _stored_name(name: str) -> str:
    stored = getattr(staticfiles_storage, "stored_name", None)
    return str(stored(name)) if stored else name


def page_assets() -> PageAssets:
    module_url = static(PAGE_MODULE)
    preloads = []
    for name in PAGE_MODULE_IMPORTS:
        # The URL ``import "./card.js"`` resolves to from the entry module's own URL.
        url = urljoin(module_url, name.rsplit("/", 1)[-1])
        preloads.append(Asset(url=url, integrity=integrity(_served_path(name))))
    return PageAssets(
        module=Asset(module_url, integrity(_served_path(_stored_name(PAGE_MODULE)))),
        preloads=tuple(preloads),
        stylesheet=Asset(
            static(PAGE_STYLESHEET), integrity(_served_path(_stored_name(PAGE_STYLESHEET)))
        ),
    )


def brand_marks() -> dict[str, str]:
    """Brand → URL of its mark, for the page's script (an image runs no code: no SRI needed)."""
    return {brand: static(name) for brand, name in BRAND_MARKS.items()}
