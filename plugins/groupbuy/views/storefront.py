"""Storefront pages (``/s/<slug>/x/groupbuy/…``): campaigns, a campaign with its open groups,
a group (the share link) and its poster; ordering into a group and paying for it."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from mallow.sdk import (
    CheckoutProblems,
    IdempotencyConflict,
    Order,
    SoldOut,
    ValidationFailed,
    address_book,
    cashier_url,
    current_store,
    db,
    fen_to_yuan,
    plugin_settings,
    principal,
    share_sheet,
    shopper_required,
)
from mallow.sdk import place_order as checkout_order
from mallow_groupbuy import campaigns, money, present
from mallow_groupbuy.i18n import _, translations
from mallow_groupbuy.models import Group, Member


def _open_stores_only():
    store = current_store()
    if store is None or not store.is_open:
        abort(404)


def _context():
    return {
        "gb_url": present.shop_url,
        "gb_theme": present.page_theme,
        "gb_asset": lambda name: url_for(".static", filename=name, v=present.asset_version(name)),
    }


def _campaign_or_404(campaign_id: int):
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _shopper():
    return principal("shopper")


def _my_pending(campaign_id: int) -> list[dict]:
    """The signed-in shopper's unpaid group-buy orders of this campaign (to pay or wait on)."""
    shopper = _shopper()
    if shopper is None:
        return []
    rows = db.session.execute(
        sa.select(Member, Order)
        .join(Order, Order.id == Member.order_id)
        .where(
            Member.campaign_id == campaign_id,
            Member.customer_id == shopper.id,
            Member.status == "pending",
            Order.status == "pending_payment",
        )
        .order_by(Member.id)
    ).all()
    return [
        {
            "order_id": order.id,
            "number": order.number,
            "total_yuan": fen_to_yuan(order.total),
            "group_id": member.group_id,
            "pay_deadline": present.when(order.pay_deadline),
        }
        for member, order in rows
    ]


def _core_url(endpoint: str, **values) -> str | None:
    """A core storefront page's URL, or None where this Mallow has no such page."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _order_form(campaign, group_id=None) -> dict:
    """The open/join form, or what the shopper must do first: sign in or sign up (and come back
    here), add a delivery address (and come back here)."""
    shopper = _shopper()
    here = request.path
    return {
        "signed_in": shopper is not None,
        "addresses": address_book(shopper.id) if shopper else [],
        "idempotency_key": secrets.token_hex(16),
        "group_id": group_id,
        "unpaid_minutes": plugin_settings("groupbuy").get("unpaid_minutes", 10),
        "login_url": url_for("storefront.login", next=here),
        "register_url": _core_url("storefront.register", next=here),
        "new_address_url": _core_url("storefront.new_address", next=here) or _core_url("storefront.account"),
        "addresses_url": _core_url("storefront.address_book", next=here),
    }


def campaigns_page():
    rows = [present.campaign_summary(c) for c in campaigns.live_campaigns()]
    return render_template("groupbuy/campaigns.html", campaigns=[r for r in rows if r["product"]])


def campaign_page(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    summary = present.campaign_summary(campaign)
    if summary["product"] is None:
        abort(404)
    opener_skus = present.sku_rows(campaign, bp=money.tier_for(campaign.tiers, 1), leader_bp=campaign.leader_bp)
    return render_template(
        "groupbuy/campaign.html",
        campaign=campaign,
        summary=summary,
        skus=opener_skus,
        phase=campaigns.phase(campaign),
        starts_at=present.when(campaign.starts_at),
        leader_percent=money.percent_text(campaign.leader_bp) if campaign.leader_bp else None,
        groups=present.open_groups(campaign),
        pending=_my_pending(campaign.id),
        form=_order_form(campaign),
    )


def group_page(group_id: int):
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    campaign = _campaign_or_404(group.campaign_id)
    view = present.group_view(group)
    shopper = _shopper()
    mine = present.membership(group, shopper.id) if shopper is not None else None
    skus = present.sku_rows(campaign, bp=present.next_bp(group))
    product = present.product_card(campaign.product_id)
    share_url = url_for(request.endpoint, group_id=group.id, _external=True)
    my_order_url = _core_url("storefront.order_detail", order_id=mine["order_id"]) if mine else None
    return render_template(
        "groupbuy/group.html",
        group=view,
        campaign=campaign,
        product=product,
        skus=skus,
        is_member=mine is not None,
        mine=mine,
        my_order_url=my_order_url,
        pending=[p for p in _my_pending(campaign.id) if p["group_id"] == group.id],
        share_url=share_url,
        share_json=present.share_json(view, campaign, product, skus, share_url),
        texts_json=present.script_texts(),
        form=_order_form(campaign, group.id),
        sheet=share_sheet(present.SHARE_KIND, group.id),  # 分享: Mallow's poster and link (mallow_share_target)
    )


def poster_page(group_id: int):
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    campaign = _campaign_or_404(group.campaign_id)
    skus = present.sku_rows(campaign, bp=present.next_bp(group))
    return render_template(
        "groupbuy/poster.html",
        group=present.group_view(group),
        campaign=campaign,
        product=present.product_card(campaign.product_id),
        price=skus[0]["group_price_yuan"] if skus else "",
        share_url=present.shop_url("group", group_id=group.id, _external=True),
    )


@shopper_required
def place_order(campaign_id: int):
    """Open a group (no ``group_id``) or join one: the order goes through Mallow's checkout with
    the group-buy option, then the shopper pays."""
    campaign = _campaign_or_404(campaign_id)
    form = request.form
    group_id = int(form["group_id"]) if str(form.get("group_id", "")).isdigit() else None
    back = (
        present.shop_url("group", group_id=group_id)
        if group_id
        else present.shop_url("campaign", campaign_id=campaign.id)
    )
    try:
        quantity = int(form.get("quantity", "1"))
        sku_id = int(form.get("sku_id", ""))
    except ValueError:
        flash(_("Choose an option and a quantity."), "error")
        return redirect(back), 303
    options = {"groupbuy": {"campaign_id": campaign.id, "group_id": group_id}}
    try:
        order, _created = checkout_order(
            _shopper(),
            [{"sku_id": sku_id, "quantity": quantity}],
            form.get("address_id"),
            idempotency_key=str(form.get("idempotency_key", ""))[:80] or None,
            options=options,
        )
    except ValidationFailed as failed:
        flash("; ".join(str(message) for _code, message in failed.errors.values()), "error")
        return redirect(back), 303
    except CheckoutProblems as problems:
        flash("; ".join(str(p.message) for p in problems.problems), "error")
        return redirect(back), 303
    except SoldOut:
        flash(_("Sold out"), "error")
        return redirect(back), 303
    except IdempotencyConflict:
        abort(409)
    return redirect(cashier_url(order)), 303  # the one cashier (收银台) for every order


@shopper_required
def pay(order_id: int):
    order = db.session.get(Order, order_id)
    member = db.session.execute(sa.select(Member).where(Member.order_id == order_id)).scalar_one_or_none()
    if order is None or member is None or order.customer_id != _shopper().id:
        abort(404)
    return redirect(cashier_url(order)), 303  # the one cashier (收银台) for every order


def make_blueprint() -> Blueprint:
    bp = Blueprint("shop", "mallow_groupbuy", template_folder="templates", static_folder="static")
    bp.groupbuy_role = "shop"
    bp.before_request(_open_stores_only)
    bp.context_processor(_context)
    translations.install(bp)  # the templates translate with the plugin's catalogue
    bp.add_url_rule("/", "campaigns", campaigns_page)
    bp.add_url_rule("/c/<int:campaign_id>", "campaign", campaign_page)
    bp.add_url_rule("/c/<int:campaign_id>/order", "place_order", place_order, methods=["POST"])
    bp.add_url_rule("/g/<int:group_id>", "group", group_page)
    bp.add_url_rule("/g/<int:group_id>/poster", "poster", poster_page)
    bp.add_url_rule("/orders/<int:order_id>/pay", "pay", pay, methods=["POST"])
    return bp
