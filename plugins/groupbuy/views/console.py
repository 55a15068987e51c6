"""Merchant console pages (``/s/<slug>/console/x/groupbuy/…``), staff of the store only:
campaigns with their statistics, the campaign form, groups by state, one group's members,
refunds and log."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from mallow.sdk import Order, Product, ValidationFailed, db, fen_to_yuan, id_value, staff_required
from mallow_groupbuy import campaigns, labels, money, present
from mallow_groupbuy.i18n import _, translations
from mallow_groupbuy.models import Campaign, Event, Group, Member, RefundTask
from mallow_groupbuy.refunds import retry

GROUP_STATES = ("open", "succeeded", "failed", "cancelled")


def _context():
    return {
        "states": {
            "open": _("Waiting for members"),
            "succeeded": _("Succeeded"),
            "failed": _("Failed"),
            "cancelled": _("Cancelled"),
        },
        "phases": {"active": _("Running"), "ended": _("Ended"), "scheduled": _("Scheduled"), "expired": _("Finished")},
        "member_states": {
            "pending": _("Awaiting payment"),
            "joined": _("Paid"),
            "dropped": _("Order closed unpaid"),
            "left": _("Refunded (left)"),
            "refunded": _("Refunded by the group buy"),
        },
        "refund_states": {"due": _("due"), "processing": _("processing"), "done": _("done"), "failed": _("failed")},
        "yuan": fen_to_yuan,
        "when": present.when,
        "percent": money.percent_text,
    }


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        abort(404)
    return campaign


@staff_required
def campaign_list():
    rows = list(db.session.execute(sa.select(Campaign).order_by(Campaign.id.desc()).limit(200)).scalars())
    titles = (
        dict(
            db.session.execute(
                sa.select(Product.id, Product.title).where(Product.id.in_({c.product_id for c in rows}))
            ).all()
        )
        if rows
        else {}
    )
    return render_template(
        "groupbuy/console_campaigns.html",
        campaigns=rows,
        titles=titles,
        stats=campaigns.stats([c.id for c in rows]),
        phase=campaigns.phase,
    )


def _form_page(campaign: Campaign | None, values: MultiDict, errors: dict | None = None, status: int = 200):
    products = db.session.execute(sa.select(Product.id, Product.title).order_by(Product.id.desc()).limit(500)).all()
    product_id = values.get("product_id") or (campaign.product_id if campaign else None)
    product = db.session.get(Product, id_value(product_id)) if id_value(product_id) else None
    tier_rows = list(zip(values.getlist("tier_size"), values.getlist("tier_percent"), strict=False))
    tier_rows += [("", "")] * (campaigns.MAX_TIERS - len(tier_rows))
    return render_template(
        "groupbuy/console_form.html",
        campaign=campaign,
        values=values,
        errors=errors or {},
        products=products,
        skus=list(product.skus) if product else [],
        chosen_skus={id_value(v) for v in values.getlist("sku_ids")} - {None},
        tier_rows=tier_rows[: campaigns.MAX_TIERS],
    ), status


def _values_of(campaign: Campaign) -> MultiDict:
    zone = campaigns.store_zone()
    values = MultiDict(
        {
            "title": campaign.title,
            "product_id": str(campaign.product_id),
            "group_size": str(campaign.group_size),
            "leader_discount_percent": money.percent_text(campaign.leader_bp).rstrip("%") if campaign.leader_bp else "",
            "window_hours": str(campaign.window_minutes // 60),
            "starts_at": campaigns.aware(campaign.starts_at).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": campaigns.aware(campaign.ends_at).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
            "quota": str(campaign.quota),
            "per_order_limit": str(campaign.per_order_limit or ""),
            "per_shopper_limit": str(campaign.per_shopper_limit or ""),
            "auto_complete_percent": str(campaign.auto_complete_percent or ""),
        }
    )
    for tier in campaign.tiers:
        values.add("tier_size", str(tier["size"]))
        values.add("tier_percent", money.percent_text(tier["bp"]).rstrip("%"))
    for sku_id in campaign.sku_ids or []:
        values.add("sku_ids", str(sku_id))
    if campaign.new_customers_only:
        values.add("new_customers_only", "1")
    if campaign.auto_complete_percent:
        values.add("auto_complete", "1")
    return values


@staff_required
def new_campaign():
    if request.method == "POST":
        try:
            campaign = campaigns.create(request.form)
        except ValidationFailed as failed:
            db.session.rollback()
            return _form_page(None, request.form, failed.errors, 422)
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".edit_campaign", campaign_id=campaign.id)), 303
    defaults = campaigns.default_form_values()
    values = MultiDict(request.args)
    for key, value in defaults.items():
        if key not in values:
            for item in value if isinstance(value, list) else [value]:
                values.add(key, item)
    return _form_page(None, values)


@staff_required
def edit_campaign(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    if request.method == "POST":
        try:
            campaigns.update(campaign, request.form)
        except ValidationFailed as failed:
            db.session.rollback()
            return _form_page(campaign, request.form, failed.errors, 422)
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".edit_campaign", campaign_id=campaign.id)), 303
    return _form_page(campaign, _values_of(campaign))


@staff_required
def end_campaign(campaign_id: int):
    campaigns.end(_campaign_or_404(campaign_id))
    db.session.commit()
    return redirect(url_for(".campaign_list")), 303


@staff_required
def delete_campaign(campaign_id: int):
    try:
        campaigns.delete(_campaign_or_404(campaign_id))
    except ValidationFailed as failed:
        db.session.rollback()
        flash("; ".join(str(m) for _c, m in failed.errors.values()), "error")
        return redirect(url_for(".campaign_list")), 303
    db.session.commit()
    return redirect(url_for(".campaign_list")), 303


@staff_required
def group_list():
    state = request.args.get("state") or None
    if state is not None and state not in GROUP_STATES:
        abort(404)
    campaign_id = request.args.get("campaign", type=id_value)
    query = sa.select(Group).order_by(Group.id.desc()).limit(200)
    if state:
        query = query.where(Group.status == state)
    if campaign_id:
        query = query.where(Group.campaign_id == campaign_id)
    groups = list(db.session.execute(query).scalars())
    titles = dict(db.session.execute(sa.select(Campaign.id, Campaign.title)).all())
    return render_template(
        "groupbuy/console_groups.html",
        groups=groups,
        titles=titles,
        state=state,
        campaign_id=campaign_id,
        campaign=campaigns.get(campaign_id) if campaign_id else None,
    )


@staff_required
def group_detail(group_id: int):
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    members = list(
        db.session.execute(
            sa.select(Member).where(Member.group_id == group.id).order_by(Member.seq, Member.id)
        ).scalars()
    )
    orders = (
        {
            o.id: o
            for o in db.session.execute(sa.select(Order).where(Order.id.in_({m.order_id for m in members}))).scalars()
        }
        if members
        else {}
    )
    tasks = {}
    for task in (
        db.session.execute(sa.select(RefundTask).where(RefundTask.member_id.in_({m.id for m in members}))).scalars()
        if members
        else []
    ):
        tasks.setdefault(task.member_id, []).append(task)
    events = list(db.session.execute(sa.select(Event).where(Event.group_id == group.id).order_by(Event.id)).scalars())
    return render_template(
        "groupbuy/console_group.html",
        group=group,
        view=present.group_view(group),
        campaign=campaigns.get(group.campaign_id),
        members=members,
        orders=orders,
        tasks=tasks,
        events=events,
        shop_group_url=present.shop_url("group", group_id=group.id),
        sku_label=present.sku_label,
        log_label=labels.log_label,
        log_detail=labels.log_detail,
        refund_error=labels.refund_error_label,
    )


@staff_required
def retry_refund(task_id: int):
    task = db.session.get(RefundTask, task_id)
    if task is None:
        abort(404)
    retry(task)
    db.session.commit()
    member = db.session.get(Member, task.member_id)
    return redirect(url_for(".group_detail", group_id=member.group_id)), 303


def make_blueprint() -> Blueprint:
    bp = Blueprint("console", "mallow_groupbuy", template_folder="templates")
    bp.groupbuy_role = "console"
    bp.context_processor(_context)
    translations.install(bp)  # the templates translate with the plugin's catalogue
    bp.add_url_rule("/", "campaign_list", campaign_list)
    bp.add_url_rule("/new", "new_campaign", new_campaign, methods=["GET", "POST"])
    bp.add_url_rule("/<int:campaign_id>", "edit_campaign", edit_campaign, methods=["GET", "POST"])
    bp.add_url_rule("/<int:campaign_id>/end", "end_campaign", end_campaign, methods=["POST"])
    bp.add_url_rule("/<int:campaign_id>/delete", "delete_campaign", delete_campaign, methods=["POST"])
    bp.add_url_rule("/groups", "group_list", group_list)
    bp.add_url_rule("/groups/<int:group_id>", "group_detail", group_detail)
    bp.add_url_rule("/refunds/<int:task_id>/retry", "retry_refund", retry_refund, methods=["POST"])
    return bp
