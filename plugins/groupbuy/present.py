"""What pages and the API show of campaigns and groups: real rows only.

Members are shown by a masked nickname (``张**``, its first character in a slot) and their join
time; open seats are empty slots; there are no pictures of people, no invented members and no
counters beyond what the tables hold.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import format_datetime
from sqlalchemy.orm import aliased

from mallow.sdk import (
    Customer,
    Product,
    ProductImage,
    Sku,
    db,
    fen_to_yuan,
    image_url,
    static_version,
    storefront_theme,
)
from mallow_groupbuy import money
from mallow_groupbuy.campaigns import aware, now, skus_of
from mallow_groupbuy.i18n import _
from mallow_groupbuy.models import Campaign, Group, Member


def masked(nickname: str | None) -> str:
    name = (nickname or "").strip()
    return (name[:1] + "**") if name else "**"


def when(moment: datetime | None) -> str:
    return format_datetime(aware(moment), "yyyy-MM-dd HH:mm") if moment else ""


def mounted(role: str, view: str) -> str:
    """The app's endpoint of one of the plugin's own views (``role``: shop, console, …),
    whatever name the platform mounted the blueprint under."""
    for name, blueprint in current_app.blueprints.items():
        if getattr(blueprint, "groupbuy_role", None) == role:
            return f"{name}.{view}"
    raise LookupError(f"groupbuy {role} pages are not mounted")


def shop_url(view: str, **values) -> str:
    return url_for(mounted("shop", view), **values)


def product_card(product_id: int) -> dict | None:
    product = db.session.get(Product, product_id)
    if product is None:
        return None
    image = db.session.execute(
        sa.select(ProductImage)
        .where(ProductImage.product_id == product.id)
        .order_by(ProductImage.sort, ProductImage.id)
        .limit(1)
    ).scalar_one_or_none()
    picture = image_url(image.thumb_path or image.path) if image is not None else None
    return {"id": product.id, "title": product.title, "on_shelf": product.status == "on_shelf", "image": picture}


def list_cards(campaigns: list[Campaign]) -> dict[int, dict]:
    """``{campaign id: what a list of campaigns shows of it}`` (its product's title, whether it is
    on the shelf, its picture, the lowest list price of the options it covers and the best group
    price) for every one of ``campaigns`` in **one** statement: each product with its first
    picture and its active options. A campaign whose product is gone is left out. The same
    figures as :func:`campaign_summary` (the group-buy list block shows these)."""
    product_ids = sorted({campaign.product_id for campaign in campaigns})
    if not product_ids:
        return {}
    other = aliased(ProductImage)
    first = (
        sa.select(other.id)
        .where(other.product_id == Product.id)
        .order_by(other.sort, other.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(
            Product.id,
            Product.title,
            Product.status,
            ProductImage.path,
            ProductImage.thumb_path,
            Sku.id.label("sku_id"),
            Sku.price,
        )
        .select_from(Product)
        .outerjoin(ProductImage, ProductImage.id == first)
        .outerjoin(Sku, sa.and_(Sku.product_id == Product.id, Sku.active.is_(True)))
        .where(Product.id.in_(product_ids))
    ).all()
    products: dict[int, dict] = {}
    for row in rows:
        product = products.get(row.id)
        if product is None:
            picture = image_url(row.thumb_path or row.path) if row.path is not None else None
            product = products[row.id] = {
                "id": row.id,
                "title": row.title,
                "on_shelf": row.status == "on_shelf",
                "image": picture,
                "prices": {},
            }
        if row.sku_id is not None:
            product["prices"][row.sku_id] = row.price
    cards = {}
    for campaign in campaigns:
        product = products.get(campaign.product_id)
        if product is None:
            continue
        prices = [price for sku_id, price in product["prices"].items() if campaign.covers(sku_id)]
        best = money.unit_price(min(prices), min(tier["bp"] for tier in campaign.tiers)) if prices else None
        cards[campaign.id] = {
            "product": {key: product[key] for key in ("id", "title", "on_shelf", "image")},
            "list_price_yuan": fen_to_yuan(min(prices)) if prices else "",
            "best_price_yuan": fen_to_yuan(best) if best else "",
            "ends_at": when(campaign.ends_at),
        }
    return cards


def ladder(tiers: list[dict]) -> list[dict]:
    return [{"size": tier["size"], "percent": money.percent_text(tier["bp"]), "bp": tier["bp"]} for tier in tiers]


def sku_rows(campaign: Campaign, *, bp: int, leader_bp: int = 0) -> list[dict]:
    """The campaign's options with their list price and their price at rate ``bp``."""
    rows = []
    for sku in skus_of(campaign):
        unit = money.unit_price(sku.price, bp, leader_bp)
        label = " / ".join(str(v) for v in (sku.spec_values or {}).values()) or sku.spec_key or ""
        rows.append(
            {
                "id": sku.id,
                "label": label,
                "price": sku.price,
                "group_price": unit,
                "price_yuan": fen_to_yuan(sku.price),
                "group_price_yuan": fen_to_yuan(unit),
                "stock": sku.stock,
            }
        )
    return rows


def campaign_summary(campaign: Campaign) -> dict:
    prices = [sku.price for sku in skus_of(campaign)]
    lowest_bp = min(tier["bp"] for tier in campaign.tiers)
    best = money.unit_price(min(prices), lowest_bp) if prices else None
    open_groups, next_deadline = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(Group.deadline))
        .select_from(Group)
        .where(Group.campaign_id == campaign.id, Group.status == "open", Group.deadline > now())
    ).one()
    return {
        "id": campaign.id,
        "title": campaign.title,
        "product": product_card(campaign.product_id),
        "list_price": min(prices) if prices else None,
        "best_price": best,
        "list_price_yuan": fen_to_yuan(min(prices)) if prices else "",
        "best_price_yuan": fen_to_yuan(best) if best else "",
        "group_size": campaign.group_size,
        "ends_at": when(campaign.ends_at),
        "ends_at_iso": aware(campaign.ends_at).isoformat(),
        "open_groups": open_groups,
        #: the open groups' count drops at this deadline (None: no group is open)
        "groups_change_at": aware(next_deadline),
        "remaining": max(0, campaign.quota - campaign.sold),
        "ladder": ladder(campaign.tiers),
    }


def _names(customer_ids: set[int]) -> dict[int, str]:
    if not customer_ids:
        return {}
    rows = db.session.execute(sa.select(Customer.id, Customer.nickname).where(Customer.id.in_(customer_ids))).all()
    return {cid: masked(nickname) for cid, nickname in rows}


def open_groups(campaign: Campaign, limit: int = 20) -> list[dict]:
    at = now()
    groups = list(
        db.session.execute(
            sa.select(Group)
            .where(
                Group.campaign_id == campaign.id, Group.status == "open", Group.deadline > at, Group.seats < Group.size
            )
            .order_by(Group.deadline, Group.id)
            .limit(limit)
        ).scalars()
    )
    leaders = {g.leader_member_id for g in groups if g.leader_member_id}
    members = (
        {m.id: m for m in db.session.execute(sa.select(Member).where(Member.id.in_(leaders))).scalars()}
        if leaders
        else {}
    )
    names = _names({m.customer_id for m in members.values()})
    return [
        {
            "id": g.id,
            "leader": names.get(members[g.leader_member_id].customer_id, "**") if g.leader_member_id in members else "",
            "headcount": g.headcount,
            "size": g.size,
            "needed": g.size - g.headcount,
            "deadline": when(g.deadline),
            "deadline_iso": aware(g.deadline).isoformat(),
            "seconds_left": max(0, int((aware(g.deadline) - at).total_seconds())),
        }
        for g in groups
    ]


def group_view(group: Group) -> dict:
    """Everything the group page and ``getGroup`` show: the real members, nothing else."""
    at = now()
    members = list(
        db.session.execute(
            sa.select(Member).where(Member.group_id == group.id).order_by(Member.seq, Member.id)
        ).scalars()
    )
    names = _names({m.customer_id for m in members})
    shown = [
        {
            "id": m.id,
            "name": names.get(m.customer_id, "**"),
            "initial": names.get(m.customer_id, "*")[:1],
            "leader": m.id == group.leader_member_id,
            "joined_at": when(m.joined_at),
        }
        for m in members
        if m.status == "joined"
    ]
    refunded_after = sum(1 for m in members if m.status == "left" and group.status == "succeeded")
    next_seat = min(group.seats + 1, group.size)
    return {
        "id": group.id,
        "campaign_id": group.campaign_id,
        "status": group.status,
        "size": group.size,
        "headcount": group.headcount,
        "seats": group.seats,
        "needed": max(0, group.size - group.headcount),
        "open_seats": max(0, group.size - group.seats),
        "deadline": when(group.deadline),
        "deadline_iso": aware(group.deadline).isoformat(),
        "seconds_left": max(0, int((aware(group.deadline) - at).total_seconds())) if group.status == "open" else 0,
        "opened_at": when(group.opened_at),
        "closed_at": when(group.closed_at),
        "members": shown,
        "refunded_after": refunded_after,
        # seats nobody has paid for yet (shown empty, never filled with anyone invented)
        "empty_slots": max(0, group.size - len(shown)) if group.status == "open" else 0,
        "auto_completed": group.auto_completed,
        "ladder": ladder(group.tiers),
        "next_percent": money.percent_text(money.tier_for(group.tiers, next_seat)),
        "final_percent": money.percent_text(group.final_bp) if group.final_bp else None,
    }


def next_bp(group: Group) -> int:
    """The rate the next member would pay (the final rate once the group succeeded)."""
    return group.final_bp or money.tier_for(group.tiers, min(group.seats + 1, group.size))


def member_customer_ids(group: Group) -> set[int]:
    return set(
        db.session.execute(
            sa.select(Member.customer_id).where(Member.group_id == group.id, Member.status.in_(("pending", "joined")))
        ).scalars()
    )


def sku_label(sku_id: int) -> str:
    sku = db.session.get(Sku, sku_id)
    if sku is None:
        return ""
    return " / ".join(str(v) for v in (sku.spec_values or {}).values()) or sku.spec_key or ""


def page_theme() -> dict:
    """The store's active theme around the plugin's own pages (the SDK's ``storefront_theme``)."""
    return storefront_theme()


def membership(group: Group, customer_id: int) -> dict | None:
    """The shopper's own place in ``group`` (ordered or paid), with their order."""
    member = db.session.execute(
        sa.select(Member)
        .where(Member.group_id == group.id, Member.customer_id == customer_id, Member.status.in_(("pending", "joined")))
        .order_by(Member.id)
        .limit(1)
    ).scalar_one_or_none()
    if member is None:
        return None
    return {
        "member_id": member.id,
        "order_id": member.order_id,
        "paid": member.status == "joined",
        "leader": member.id == group.leader_member_id,
    }


def share_json(view: dict, campaign: Campaign, product: dict | None, skus: list[dict], link: str) -> str:
    """What a share shows (the WeChat JS-SDK's ``updateAppMessageShareData`` fields), for the
    page's ``<script type="application/json">``: the group's real numbers only."""
    price = skus[0]["group_price_yuan"] if skus else ""
    desc = (
        _(
            "%(size)s people make a group, %(n)s more needed. Group price ¥%(price)s.",
            size=view["size"],
            n=view["needed"],
            price=price,
        )
        if view["status"] == "open"
        else campaign.title
    )
    image = (product or {}).get("image") or ""
    if image and image.startswith("/"):
        from flask import request

        image = request.host_url.rstrip("/") + image
    data = {
        "title": _("Join my group buy: %(title)s", title=campaign.title),
        "desc": desc,
        "link": link,
        "imgUrl": image,
    }
    return json_for_script(data)


def script_texts() -> str:
    """What ``static/groupbuy.js`` says, in the page's language."""
    return json_for_script(
        {
            "copied": _("Link copied: send it to your friends."),
            "copy_by_hand": _("Copy this link and send it to your friends:"),
            "wechat_share": _("Tap ··· at the top right to send this group to a friend or to Moments."),
            "got_it": _("Got it"),
            "close": _("Close"),
        }
    )


def json_for_script(data) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    import json

    from markupsafe import Markup

    text = json.dumps(data, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def asset_version(name: str) -> str:
    """A content hash of one of the plugin's static files, for ``?v=``."""
    return static_version(Path(__file__).parent / "static", name)


#: the kind of a group in Mallow's share links and posters (``mallow_share_target``)
SHARE_KIND = "groupbuy_group"


def share_target(ref: str) -> dict | None:
    """A group as Mallow shares it (its poster and its link with the sharer's code): the campaign's
    title, the price the next member pays (the final one once complete), the product's picture,
    the group page, and the group's real state beside the price. None: no such group here."""
    if not ref.isdigit() or not 0 < int(ref) < 2**31:
        return None
    group = db.session.get(Group, int(ref))
    campaign = db.session.get(Campaign, group.campaign_id) if group is not None else None
    if group is None or campaign is None:
        return None
    skus = sku_rows(campaign, bp=next_bp(group))
    image = db.session.execute(
        sa.select(ProductImage.path)
        .where(ProductImage.product_id == campaign.product_id)
        .order_by(ProductImage.sort, ProductImage.id)
        .limit(1)
    ).scalar_one_or_none()
    needed = max(0, group.size - group.headcount)
    if group.status == "open":
        caption = _("Group of %(size)s · %(n)s more needed", size=group.size, n=needed)
    elif group.status == "succeeded":
        caption = _("Group complete")
    else:
        caption = None
    return {
        "title": campaign.title,
        "path": shop_url("group", group_id=group.id),
        "price": min(row["group_price"] for row in skus) if skus else None,
        "image": image,
        "caption": caption,
    }
