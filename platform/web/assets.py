"""The storefront's own static files (``platform/static/storefront/``) with a content hash in
their address (``?v=``), so browsers never keep an old copy after an upgrade (template global
``storefront_asset``, :mod:`mallow.storefront.chrome`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import has_request_context, request, url_for

STATIC = Path(__file__).resolve().parents[1] / "static" / "storefront"

_asset_versions: dict[tuple[str, float], str] = {}
#: ``{(name, mtime, host, script root, scheme): address}``: what ``url_for`` made for a file of
#: this content at this request address (every storefront page asks for the same few files)
_asset_urls: dict[tuple, str] = {}
#: bound: hosts are the visitors' to choose
KEPT_URLS = 2_000


def asset_url(name: str) -> str:
    """``platform/static/storefront/<name>`` with a content hash (``?v=``) for cache busting."""
    try:
        stamp = os.stat(os.path.join(STATIC, name)).st_mtime
    except OSError:
        return url_for("static", filename=f"storefront/{name}")
    key = (name, stamp, request.host, request.script_root, request.scheme) if has_request_context() else None
    found = _asset_urls.get(key) if key is not None else None
    if found is not None:
        return found
    version = _asset_versions.get((name, stamp))
    if version is None:
        version = _asset_versions[(name, stamp)] = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    found = url_for("static", filename=f"storefront/{name}", v=version)
    if key is not None:
        if len(_asset_urls) >= KEPT_URLS:
            _asset_urls.clear()
        _asset_urls[key] = found
    return found
