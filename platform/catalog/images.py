"""Where a product picture of the active store is served: its stored path as a name under the
store's folder (:func:`media_name`) and the storefront address of that name (:func:`image_url`,
the ``storefront.media`` route).

Product pictures are library images (``media/``) or uploads from before the library
(``products/``); any other path, or another store's, has no name and no address.
"""

from __future__ import annotations

import re

from flask import g, has_request_context, request, url_for

from mallow.tenants.context import current_store

#: product images: library images (``media/``) and uploads from before the library (``products/``)
MEDIA_NAME = re.compile(r"^(?:media|products)/[0-9a-f]{32}(?:_\d{2,4})?\.(?:jpg|png|webp)$")


def media_name(path: str | None, store_id: int | None = None) -> str | None:
    """``uploads/stores/<id>/media/x.jpg`` → ``media/x.jpg`` (None for another store's)."""
    if not path:
        return None
    store_id = store_id if store_id is not None else current_store().id
    prefix = f"uploads/stores/{store_id}/"
    if not path.startswith(prefix):
        return None
    name = path[len(prefix) :]
    return name if MEDIA_NAME.match(name) else None


def image_url(path: str | None) -> str | None:
    """The storefront URL of a stored product image."""
    name = media_name(path)
    return media_url(name) if name else None


def media_url(name: str, *, external: bool = False) -> str:
    """The ``storefront.media`` address of a media name. The store's media address is built once
    per request and the name appended (:data:`MEDIA_NAME` allows only characters a URL path carries
    as they are): ``url_for`` costs tens of microseconds, and a listing shows dozens of pictures."""
    if not has_request_context():
        return url_for("storefront.media", name=name, _external=external)
    bases = g.setdefault("mallow_media_urls", {})
    key = (external, request.host_url)
    if key not in bases:
        bases[key] = url_for("storefront.media", name="_", _external=external)[:-1]
    return bases[key] + name
