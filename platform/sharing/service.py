"""What the storefront and the API share: find what is shared (404 when it is not on show in
this store: a product, a landing page, or a plugin's thing through ``mallow_share_target``), its
share link for the asking shopper, and its poster (kept on disk)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g
from flask_babel import get_locale
from flask_babel import gettext as _

from mallow.builder.models import Page
from mallow.builder.service import SLUG_RE
from mallow.catalog import products
from mallow.catalog.product_json import min_price
from mallow.db import db
from mallow.extensions import limiter
from mallow.media.images import absolute_path
from mallow.sharing import posters, targets
from mallow.sharing.links import Link, Shared, share_link
from mallow.tenants.context import current_store


def poster_limits(view):
    """Drawing a poster takes tens of milliseconds of CPU: a per-IP limit on every route that
    draws one (the storefront's and ``getSharePoster``: one count for all), so that nobody can keep
    the workers drawing. ``POSTER_RATE_LIMIT_IP`` (30 per minute)."""
    return limiter.shared_limit(
        lambda: current_app.config.get("POSTER_RATE_LIMIT_IP") or "30 per minute",
        scope="share-poster-ip",
        methods=["GET"],
        error_message="too many posters",
    )(view)


class NotShared(LookupError):
    """Nothing to share there: no such product on the shelf, or no such published page."""


def find(kind: str, ref) -> tuple[Shared, object]:
    """``(what is shared, its row)`` for a product id or a landing page's slug of this store, or a
    plugin's kind and ref (the row: its :class:`~mallow.sharing.targets.Target`)."""
    if kind == "product":
        product = products.get(ref, shopper=True)
        if product is None:
            raise NotShared(kind)
        return Shared("product", product.id), product
    if kind == "page":
        if not isinstance(ref, str) or not SLUG_RE.match(ref):
            raise NotShared(kind)
        page = db.session.execute(
            sa.select(Page).where(Page.kind == "landing", Page.slug == ref, Page.published_version_id.is_not(None))
        ).scalar_one_or_none()
        if page is None:
            raise NotShared(kind)
        return Shared("page", page.slug), page
    if isinstance(ref, str):
        target = targets.find(kind, ref)
        if target is not None:
            return Shared(kind, ref, page=target.path), target
    raise NotShared(kind)


def link_for(shared: Shared, customer) -> Link:
    """The share link, committing the shopper's new referral code if one was just made."""
    link = share_link(shared, customer)
    if link.source == "referral":
        db.session.commit()  # the shopper's referral code, made the first time they share
    return link


def caption() -> str:
    return _("Long-press to scan the QR code")


def poster(shared: Shared, row, link: Link) -> tuple[bytes, bool]:
    """The PNG poster of ``shared`` carrying ``link``, and whether it was kept already. Kept
    under the store's stamp read for this request (none: drawn every time)."""
    store = current_store()
    stamp = g.get("mallow_store_stamp") if g.get("mallow_store_id") == store.id else None
    shown = row.key() if isinstance(row, targets.Target) else ()
    key = (
        None
        if stamp is None
        else posters.cache_key(shared.kind, shared.ref, stamp, link.url, get_locale(), posters.font_found(), *shown)
    )

    def draw() -> bytes:
        if isinstance(row, targets.Target):
            return posters.product_poster(
                title=row.title,
                price=row.price,
                image_path=absolute_path(row.image) if row.image else None,
                store_name=store.name,
                link=link.url,
                caption=caption(),
                note=row.caption,
            )
        if shared.kind == "product":
            images = sorted(row.images, key=lambda image: image.sort)
            return posters.product_poster(
                title=row.title,
                price=min_price(row),
                image_path=absolute_path(images[0].path) if images else None,
                store_name=store.name,
                link=link.url,
                caption=caption(),
            )
        return posters.page_poster(
            title=row.title or store.name, store_name=store.name, link=link.url, caption=caption()
        )

    return posters.cached(store.id, key, draw)


def poster_headers(customer, kept: bool) -> dict:
    """Headers of a poster response: personal when the shopper is signed in (their code)."""
    return {
        "Cache-Control": "private, max-age=300" if customer is not None else "public, max-age=300",
        "Vary": "Cookie, Authorization",
        "X-Mallow-Poster-Font": "cjk" if posters.font_found() else "fallback",
        "X-Mallow-Poster": "kept" if kept else "drawn",
    }
