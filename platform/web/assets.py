"""The storefront's own static files (``platform/static/storefront/``) with a content hash in
their address (``?v=``), so browsers never keep an old copy after an upgrade (template global
``storefront_asset``, :mod:`mallow.storefront.chrome`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import url_for

STATIC = Path(__file__).resolve().parents[1] / "static" / "storefront"

_asset_versions: dict[tuple[str, float], str] = {}


def asset_url(name: str) -> str:
    """``platform/static/storefront/<name>`` with a content hash (``?v=``) for cache busting."""
    path = STATIC / name
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return url_for("static", filename=f"storefront/{name}")
    version = _asset_versions.get((name, stamp))
    if version is None:
        version = _asset_versions[(name, stamp)] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return url_for("static", filename=f"storefront/{name}", v=version)
