"""The product page's slot (``product.after_price``): a link to the product's running campaign
with its best group price and the real number of groups waiting for members.

Mallow keeps the slot's markup until a write to campaigns or groups moves the store's stamp
(``slot_watches`` on the hook in :mod:`mallow_groupbuy`); what changes with time alone (the
campaign ends, a group's deadline passes, another campaign starts) is announced with
``fresh_for`` (:func:`mallow_groupbuy.campaigns.true_until`), so the slot is rendered again then.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from mallow.sdk import plugin_settings
from mallow_groupbuy import campaigns, present
from mallow_groupbuy.i18n import _

SLOT = "product.after_price"


def render(context: dict | None) -> Markup | None:
    if not plugin_settings("groupbuy").get("show_on_product_page", True):
        return None
    product = (context or {}).get("product")
    product_id = getattr(product, "id", None) or (product.get("id") if isinstance(product, dict) else None)
    if not product_id:
        return None
    found = campaigns.live_campaigns(product_id=product_id, limit=1)
    next_start = campaigns.next_start(product_id)
    if not found:
        campaigns.true_until(next_start)
        return None
    campaign = found[0]
    summary = present.campaign_summary(campaign)
    campaigns.true_until(campaign.ends_at, summary["groups_change_at"], next_start)
    text = _("Group price from ¥%(price)s", price=summary["best_price_yuan"])
    size = _("Group of %(size)s", size=summary["group_size"])
    groups = (
        _("%(n)s groups waiting for members", n=summary["open_groups"]) if summary["open_groups"] else _("Open a group")
    )
    style = present.shop_url("static", filename="groupbuy.css", v=present.asset_version("groupbuy.css"))
    return Markup(
        '<link rel="stylesheet" href="{style}"><p class="groupbuy-slot"><a class="gb-ribbon" href="{url}">'
        '<span class="gb-tag gb-solid">{size}</span><span class="gb-ribbon-text">{text}</span>'
        '<span class="gb-ribbon-more">{groups} ›</span></a></p>'
    ).format(
        style=style,
        url=present.shop_url("campaign", campaign_id=campaign.id),
        size=escape(size),
        text=escape(text),
        groups=escape(groups),
    )
