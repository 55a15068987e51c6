"""The "group-buy list" page-builder block: running campaigns with their best group price.

It shows campaign facts only (title, prices, group size, end time), never group counts or
members, so a cached render cannot show a stale or inflated figure; what changes with time alone
(a campaign ends, the next one starts) is announced with ``fresh_for``. What it resolves is kept by
Mallow (``watches=(Campaign,)``) until a campaign is written or that moment comes. The block's
template runs in the builder's sandbox: it gets plain data (URLs and texts resolved here), never
Python objects.
"""

from __future__ import annotations

from pathlib import Path

from mallow_groupbuy.i18n import _, _l

TYPE = "groupbuy_list"


def resolve(block: dict, ctx) -> dict:
    from mallow_groupbuy import campaigns, present

    count = int((block.get("settings") or {}).get("count") or 4)
    rows = []
    live = campaigns.live_campaigns(limit=count)
    # true until a shown campaign ends or the next one starts (the list changes only then)
    campaigns.true_until(*(campaign.ends_at for campaign in live), campaigns.next_start())
    cards = present.list_cards(live)  # every campaign's product, picture and prices: one statement
    for campaign in live:
        summary = cards.get(campaign.id)
        if summary is None or not summary["product"]["on_shelf"]:
            continue
        rows.append(
            {
                "title": campaign.title,
                "product": summary["product"]["title"],
                "image": summary["product"]["image"],
                "url": present.shop_url("campaign", campaign_id=campaign.id),
                "best_price": summary["best_price_yuan"],
                "list_price": summary["list_price_yuan"],
                "size_text": _("Group of %(size)s", size=campaign.group_size),
                "ends_text": _("Campaign ends %(when)s", when=summary["ends_at"]),
            }
        )
    return {
        "campaigns": rows,
        "all_url": present.shop_url("campaigns"),
        "all_text": _("All group buys"),
        "empty_text": _("No group buy is running right now."),
        "join_text": _("Join a group"),
        "stylesheet": present.shop_url("static", filename="groupbuy.css", v=present.asset_version("groupbuy.css")),
    }


def register_blocks(register) -> None:
    """``mallow_register_blocks``: the block type, its settings and its resolver."""
    from mallow.sdk.blocks import checkbox, number, text
    from mallow_groupbuy.models import Campaign

    # products (the catalogue) and campaigns: a new, changed or ended campaign is a fresh render
    register(
        TYPE,
        label=_l("Group-buy list"),
        icon="👥",
        group="shop",
        uses_catalogue=True,
        watches=(Campaign,),
        resolve=resolve,
        template_folder=Path(__file__).parent / "templates",
        settings={
            "title": text(_l("Title"), default=_l("Group buys")),
            "count": number(_l("How many campaigns"), 1, 12, 4),
            "show_list_price": checkbox(_l("Show the list price"), True),
        },
    )
