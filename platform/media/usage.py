"""Where a library image is shown: asked of the domains that show images, which register a finder.

The media library sits below the catalogue and the page builder, so it does not read their
tables: each of them registers a *finder* on the app (``create_app`` does it, in the order the
places are listed: pages first, then products), and :func:`find` asks them all. A finder takes
the images in question and returns ``{asset id: [Use]}`` for those it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

EXTENSION = "mallow.media.usage_finders"


@dataclass(frozen=True)
class Use:
    """One place that shows an image: a page's draft, live or kept version, or a product."""

    kind: str  # "page" or "product"
    id: int  # the page's or the product's id
    title: str
    #: pages: "draft", "live" or "version" (kept for rollback, with its ``number``);
    #: products: the shelf status
    state: str
    number: int | None = None


#: ``finder(assets) -> {asset id: [Use]}``; ``assets`` are :class:`~mallow.media.models.MediaAsset` rows
Finder = Callable[[list], dict[int, list[Use]]]


def register(app: Flask, finder: Finder) -> None:
    """Ask ``finder`` too where images are shown (after the finders registered before it)."""
    app.extensions.setdefault(EXTENSION, []).append(finder)


def find(assets: list) -> dict[int, list[Use]]:
    """Where each image is shown: ``{asset id: [Use]}``, each finder's places in registration order."""
    found: dict[int, list[Use]] = {}
    if not assets:
        return found
    for finder in current_app.extensions.get(EXTENSION, []):
        for asset_id, places in finder(assets).items():
            found.setdefault(asset_id, []).extend(places)
    return found
