"""Plugins' shareable things (a group of a group buy): a plugin declares one through the
``mallow_share_target`` hook, and Mallow shares it like a product: the same share link with the
sharer's code, the same poster, the same rate limit and poster cache.

A kind is the plugin's own (``<plugin>_<thing>``): only the answer of the plugin whose name starts
the kind is taken, so a plugin cannot speak for another's things. An answer that is not a proper
description (:func:`_checked`) is logged and treated as nothing to share (404).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import request

from mallow.plugins.manager import each_result
from mallow.tenants.context import current_store
from mallow.tenants.views import store_view

log = logging.getLogger("mallow.sharing")

KIND_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
REF_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TITLE = 120
MAX_CAPTION = 40
MAX_PRICE = 10_000_000_00


@dataclass(frozen=True)
class Target:
    """What a plugin shares: shown on the poster (title, price in fen, picture, caption) and
    where its link lands (``path``, on this site)."""

    kind: str
    ref: str
    title: str
    path: str
    price: int | None = None
    image: str | None = None
    caption: str | None = None

    def key(self) -> tuple:
        """What the poster shows (its cache key moves when any of it does)."""
        return (self.title, self.path, self.price, self.image, self.caption)


def valid(kind: str, ref: str) -> bool:
    return bool(KIND_RE.match(kind or "")) and len(kind) <= 40 and bool(REF_RE.match(ref or ""))


def _owner(name: str, kind: str) -> bool:
    return kind.startswith(f"{name}_")


def _local_path(value) -> str | None:
    """``value`` as a path on this site: a path (``/s/…``), or an absolute URL of this host."""
    if not isinstance(value, str) or not value or len(value) > 500 or any(c in value for c in "\r\n\\"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/") and not path.startswith("//") else None


def _checked(kind: str, ref: str, answer) -> Target | None:
    if not isinstance(answer, dict):
        return None
    title, path = answer.get("title"), _local_path(answer.get("path"))
    price, image, caption = answer.get("price"), answer.get("image"), answer.get("caption")
    if not isinstance(title, str) or not title.strip() or path is None:
        return None
    if price is not None and (isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE):
        return None
    if image is not None and not isinstance(image, str):
        return None
    if caption is not None and not isinstance(caption, str):
        return None
    return Target(
        kind=kind,
        ref=ref,
        title=title.strip()[:MAX_TITLE],
        path=path,
        price=price,
        image=image or None,
        caption=(caption or "").strip()[:MAX_CAPTION] or None,
    )


def find(kind: str, ref: str) -> Target | None:
    """The plugin's description of ``kind``/``ref`` in this store, or None (nothing to share)."""
    if not valid(kind, ref):
        return None
    store = store_view(current_store())
    for name, answer in each_result("mallow_share_target", store=store, kind=kind, ref=ref):
        if not _owner(name, kind):
            log.warning("sharing: %s answered for %s, which is not its kind: ignored", name, kind)
            continue
        found = _checked(kind, ref, answer)
        if found is None:
            log.warning("sharing: %s answered %r for %s/%s: ignored", name, answer, kind, ref)
        return found
    return None
