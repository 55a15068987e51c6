"""What a plugin's storefront pages need from Mallow: the store's look, the cashier, pictures,
the shopper's address book."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app, g, has_request_context, request, url_for

from mallow.builder.render import stylesheet_urls
from mallow.builder.service import current_theme
from mallow.builder.themes import theme_set
from mallow.catalog.images import image_url as storefront_image_url
from mallow.orders import addresses

if TYPE_CHECKING:
    from mallow.orders.models import Order


def cashier_url(order: Order | int, *, external: bool = False) -> str:
    """The store's cashier (收银台) for ``order`` (an ``Order`` or its id): the one place every
    order is paid, whatever placed it. Send the shopper there right after your checkout
    (``return redirect(cashier_url(order)), 303``); it offers the methods the store really has and
    lands the shopper on the order, or where ``mallow_after_payment_url`` says, once paid."""
    return url_for("storefront.pay_order", order_id=getattr(order, "id", order), _external=external)


#: ``{(store id, script root): (stamp, theme)}``: a store's theme for plugin pages, kept under its stamp
_THEMES = "mallow.sdk.storefront_themes"
_THEMES_KEPT = 20_000


def storefront_theme() -> dict[str, Any]:
    """The active store's page-builder theme, for a plugin's own storefront pages so they look
    like the store's home page in every theme: ``{"name", "classes", "style", "stylesheets"}``
    (the classes and custom properties of the theme's page root ``.mp``, and its stylesheet URLs).

    Kept per process under the store's stamp for reads (a theme switch or a settings change
    moves it at its commit): a plugin page asks no statement for it."""
    reading = has_request_context() and request.method in ("GET", "HEAD")
    stamp = g.get("mallow_store_stamp") if reading else None
    key = (g.get("mallow_store_id"), request.script_root if reading else "")
    memory = current_app.extensions.setdefault(_THEMES, {})
    kept = memory.get(key) if stamp is not None else None
    if kept is not None and kept[0] == stamp:
        return dict(kept[1])
    found = _theme()
    if stamp is not None:
        if len(memory) >= _THEMES_KEPT:
            memory.clear()
        memory[key] = (stamp, found)
    return dict(found)


def _theme() -> dict[str, Any]:
    name, settings = current_theme()
    theme = theme_set().get(name)
    style, classes = theme.css(settings)
    return {
        "name": theme.name,
        "classes": f"mp mp-theme-{theme.name} {classes}".strip(),
        "style": style,
        "stylesheets": stylesheet_urls(theme),
    }


_STATIC_VERSIONS: dict[tuple[str, float], str] = {}


def static_version(static_dir: str | os.PathLike[str], name: str) -> str:
    """A short content hash of the file ``name`` in ``static_dir`` (a plugin's static folder), for
    ``?v=`` so browsers never keep an old copy after an upgrade; ``""`` when there is no such file.
    Read again only when the file changes."""
    path = Path(static_dir) / name
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return ""
    key = (str(path), stamp)
    if key not in _STATIC_VERSIONS:
        _STATIC_VERSIONS[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return _STATIC_VERSIONS[key]


def image_url(path: str | None) -> str | None:
    """The storefront URL of a stored product picture (``ProductImage.path`` / ``thumb_path``)."""
    return storefront_image_url(path)


def address_book(customer_id: int) -> list[dict[str, Any]]:
    """The shopper's delivery addresses as Mallow's checkout shows them (phone masked), the
    default first: ``[{"id", "recipient", "phone", "province", "city", "district", "detail", …}]``."""
    return [addresses.as_dict(address) for address in addresses.of_customer(customer_id)]
