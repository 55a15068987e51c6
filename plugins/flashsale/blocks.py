"""The countdown block for the page builder (``flashsale_countdown``).

Registered through ``mallow_register_blocks(register)``. The builder's registry takes
``register(name, label=…, settings=…, template_folder=…, resolve=…)``; the hook's documented
short form is ``register(name, schema=…, template=…, label=…)``: both are served, and a
``register`` that takes neither (or no builder at all) is skipped without an error.

Published pages are cached, so the block never prints a number of seconds: it carries the
sale's start and end as absolute times (shown as text, e.g. "starts at 2026-11-11 20:00") and
``static/countdown.js`` turns them into a ticking clock. In a store that has not enabled the
plugin the block renders nothing.

What it resolves is kept (with the page) until a sale is written (``watches``) or the next moment
the sale it shows, or the one it would show, previews, starts or ends (``fresh_for``): its state
and whether it is shown change only then.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

from mallow_flashsale.i18n import _, _l

log = logging.getLogger("mallow_flashsale")
NAME = "flashsale_countdown"
#: while a sale it shows is live, what the block resolved is kept this long at most (its units
#: are sold by conditional UPDATEs, which move no stamp)
LIVE_SECONDS = 30.0
FOLDER = Path(__file__).parent / "templates"


def _settings() -> dict:
    return {
        "sale": {
            "type": "integer",
            "minimum": 0,
            "maximum": 2_000_000_000,
            "default": 0,
            "title": _l("Sale number (0: the next sale)"),
            "x-editor": "number",
        },
        "title": {
            "type": "string",
            "maxLength": 30,
            "default": "",
            "title": _l("Title (empty: the sale's title)"),
            "x-editor": "text",
        },
    }


def resolve(block: dict, ctx) -> dict:
    """The sale the block shows, as plain data for the sandboxed template."""
    from mallow.sdk import plugin_settings
    from mallow_flashsale import sales, timing
    from mallow_flashsale.links import storefront_url
    from mallow_flashsale.models import aware

    if not plugin_settings("flashsale"):
        return {"sale": None}
    now = timing.now()
    chosen = block.get("settings", {}).get("sale") or 0
    sale = _shown_sale(chosen, now)
    if sale is None:
        return {"sale": None}
    url = storefront_url("sale", sale_id=sale.id)
    script = storefront_url("static", filename="countdown.js")
    if not url or not script:
        return {"sale": None}
    from mallow.sdk import fen_to_yuan
    from mallow_flashsale.present import asset_version, product_pictures

    starts, ends = aware(sale.starts_at), aware(sale.ends_at)
    shown = sale.items[:3]
    products = sales.products_of(shown)
    pictures = product_pictures(item.product_id for item in shown)
    items = [
        {
            "title": products[item.sku_id][0].title if item.sku_id in products else "",
            "image": pictures.get(item.product_id),
            "sale_price": fen_to_yuan(item.sale_price),
            "regular_price": fen_to_yuan(products[item.sku_id][1].price) if item.sku_id in products else "",
        }
        for item in shown
    ]
    return {
        "sale": {
            "id": sale.id,
            "title": sale.title,
            "state": sale.state(now),
            "url": url,
            "script": script,
            "stylesheet": storefront_url("static", filename="flashsale.css", v=asset_version("flashsale.css")),
            "starts_epoch": int(starts.timestamp()),
            "ends_epoch": int(ends.timestamp()),
            "starts_text": timing.local_text(starts),
            "ends_text": timing.local_text(ends),
            "days_format": _("%(days)s d"),
            "items": items,
            "all_url": storefront_url("index"),
            "sold_out": all(item.remaining <= 0 for item in sale.items),
            "texts": {
                "starts_in": _("Starts in"),
                "ends_in": _("Ends in"),
                "over": _("The flash sale is over."),
                "all_sales": _("All flash sales"),
                "sold_out": _("Sold out"),
                "go": _("Go to the flash sale"),
                "when": (
                    _("Ends at %(time)s", time=timing.local_text(ends))
                    if sale.state(now) == "live"
                    else _("Starts at %(time)s", time=timing.local_text(starts))
                ),
            },
        }
    }


def _shown_sale(chosen: int, now):
    """The sale the block shows (``chosen``, else the first a shopper may see now), or None; tells
    Mallow (``fresh_for``) the next moment that changes: a sale it could show previews, starts or
    ends."""
    from mallow_flashsale import sales

    if chosen:
        found = sales.get(chosen)
        candidates = [found] if found is not None and found.published else []
    else:  # the sales still before their preheat tell the next change too
        candidates = sales.unended_sales(now)
    sales.true_for(candidates, now, LIVE_SECONDS)
    return next((sale for sale in candidates if sale.state(now) in ("preheat", "live")), None)


def register_blocks(register) -> bool:
    """Register the block with whatever ``register`` the platform hands over; False if skipped."""
    try:
        params = inspect.signature(register).parameters
    except (TypeError, ValueError):
        return False
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    try:
        if "settings" in params and ("template_folder" in params or takes_any):
            from mallow_flashsale.models import Sale, SaleItem

            # a new or edited sale is a fresh render (units sold are conditional UPDATEs: no bump)
            register(
                NAME,
                label=_l("Flash sale countdown"),
                settings=_settings(),
                template_folder=FOLDER,
                resolve=resolve,
                group="shop",
                icon="⏱",
                watches=(Sale, SaleItem),
            )
            return True
        if "schema" in params or takes_any:
            register(
                NAME,
                schema={"type": "object", "properties": _settings(), "additionalProperties": False},
                template=str(FOLDER / "blocks" / f"{NAME}.html"),
                label=_l("Flash sale countdown"),
            )
            return True
    except (TypeError, ValueError) as error:  # a registry of another shape, or registered already
        log.info("flash sale countdown block not registered: %s", error)
    return False
