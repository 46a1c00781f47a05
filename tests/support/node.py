"""Node.js helpers: the interop scripts in tests/interop and their locked npm packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

INTEROP = Path(__file__).resolve().parents[1] / "interop"


def ensure_node_packages() -> None:
    """``npm ci`` from the committed lock file, once per checkout (the project's own setup)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("Node.js and npm are required for the interop tests (apt: nodejs npm)")
    if not (INTEROP / "node_modules" / "jose" / "package.json").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=INTEROP,
            check=True,
            timeout=300,
        )


def run_node(
    script: str, payload: Any, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(INTEROP / script), *args],
        input=payload if isinstance(payload, str) else json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
        env={**os.environ, **(env or {})},
    )
