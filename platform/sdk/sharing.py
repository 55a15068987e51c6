"""Sharing a plugin's own thing like a product (分享): the plugin declares it through the
``mallow_share_target`` hook (kind ``<plugin>_<thing>``, its ref, title, price, picture, page,
caption) and its page's 分享 button opens Mallow's share sheet with the addresses below: the
share poster (a PNG with a QR code of the share link, carrying the sharer's code) and the link.

    sheet = share_sheet("groupbuy_group", group.id)
    <button type="button" id="share" data-share-link="{{ sheet.link }}" data-poster="{{ sheet.poster }}" …>
    <script src="{{ sheet.script }}" defer></script>

The sheet's script acts on the page's ``#share[data-share-link]`` button; its ``data-title``,
``data-hint``, ``data-copy``, ``data-copied``, ``data-copy-by-hand``, ``data-close`` and
``data-poster-alt`` are the texts it shows (see ``storefront/_product_detail.html``).
"""

from __future__ import annotations

from flask import url_for

from mallow.web.assets import asset_url


def share_sheet(kind: str, ref: str | int) -> dict[str, str]:
    """The share sheet's addresses for ``kind``/``ref`` in the active store: ``link`` (answers
    ``{share_url, poster_url, code, source}`` for the visitor: signed in, with their code),
    ``poster`` (the PNG) and ``script`` (the sheet's script, for a ``<script defer>``)."""
    ref = str(ref)
    return {
        "link": url_for("storefront.share_link_target", kind=kind, ref=ref),
        "poster": url_for("storefront.share_poster_target", kind=kind, ref=ref),
        "script": asset_url("share-sheet.js"),
    }
