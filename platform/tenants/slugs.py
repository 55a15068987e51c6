"""Store slugs: the name in ``{slug}.<domain>`` and ``/s/{slug}/``."""

from __future__ import annotations

import re

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,30})[a-z0-9]$")

RESERVED_SLUGS = frozenset(
    """
    admin administrator api app apps assets auth billing blog cdn console dashboard dev docs
    download email ftp help images img js css login logout mail mallow m me merchant merchants
    mobile my news oauth official pay payment payments platform root s search seller shop shops
    signup sitemap smtp sso static staging status store stores support system test undefined
    user users web webhook webhooks wechat weixin wx www api-docs openapi null
    """.split()
)


def normalise_slug(value: str | None) -> str:
    return (value or "").strip().lower()


def slug_problem(slug: str) -> str | None:
    """Return why ``slug`` cannot be a store slug, or None when it can (uniqueness aside)."""
    if not slug:
        return "required"
    if not SLUG_RE.match(slug) or "--" in slug:
        return "invalid"
    if slug in RESERVED_SLUGS:
        return "reserved"
    return None
