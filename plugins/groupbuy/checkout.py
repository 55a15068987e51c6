"""Group-buy orders at checkout: the options, the group price, the checks, the reservations.

A checkout is a group-buy order when its options carry
``{"groupbuy": {"campaign_id": 7, "group_id": 12}}`` (``group_id`` null or absent: open a new
group). Such an order holds exactly one line, an option of the campaign's product.

* :func:`line_adjustments` proposes the group price (see :mod:`mallow_groupbuy.money`) with a
  label that says which seat and tier it is; its source ``groupbuy`` is what the distribution
  plugin looks for to leave the line out of commission (unless the merchant includes it there).
* :func:`validate` refuses what cannot be sold, with a message for the shopper.
* :func:`placed` runs inside the order's transaction and takes, each with one conditional
  UPDATE, the campaign's units, the shopper's units and (joining) a seat in the group. Losing any
  race refuses the order: stock and order roll back with it. It also shortens the order's time to
  pay (plugin setting ``unpaid_minutes``, never past the group's deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow.sdk import Adjustment, CheckoutProblems, Order, Problem, db, id_value, plugin_settings, shorten_pay_deadline
from mallow_groupbuy import money
from mallow_groupbuy.campaigns import aware, get as get_campaign, is_live, now
from mallow_groupbuy.i18n import _
from mallow_groupbuy.models import Campaign, Group, Member, ShopperUnits
from mallow_groupbuy.records import log_event

#: the adjustment's source marks a group-buy line: the distribution plugin pays no commission on
#: lines with this source unless the merchant allows it there (``include_groupbuy``, off by default)
SOURCE = "groupbuy"
CODE = "group_price"
PAID_STATES = ("paid", "shipped", "delivered", "completed", "closed")


@dataclass(frozen=True)
class GroupRequest:
    campaign_id: int
    group_id: int | None

    @property
    def opening(self) -> bool:
        return self.group_id is None


def group_request(options) -> tuple[GroupRequest | None, Problem | None]:
    """The group-buy part of checkout options: ``(request, None)``, ``(None, None)`` when the
    checkout is not a group buy, ``(None, problem)`` when the options are malformed."""
    raw = (options or {}).get("groupbuy") if isinstance(options, dict) else None
    if raw is None:
        return None, None
    bad = Problem("groupbuy_invalid", _("This group-buy link is not valid."))
    if not isinstance(raw, dict):
        return None, bad
    campaign_id, group_id = raw.get("campaign_id"), raw.get("group_id")
    if type(campaign_id) is not int or (group_id is not None and type(group_id) is not int):
        return None, bad
    if id_value(campaign_id) is None or (group_id is not None and id_value(group_id) is None):
        return None, bad  # no row has such an id (and PostgreSQL would refuse to look)
    return GroupRequest(campaign_id, group_id), None


def _group(request: GroupRequest, campaign: Campaign) -> Group | None:
    group = db.session.get(Group, request.group_id) if request.group_id is not None else None
    return group if group is not None and group.campaign_id == campaign.id else None


def quote_unit(campaign: Campaign, request: GroupRequest, price: int) -> tuple[int, int, int, int]:
    """``(unit price, tier bp, seat, group size)`` for one unit of ``price`` fen."""
    if request.opening:
        seat, tiers, size, leader_bp = 1, campaign.tiers, campaign.group_size, campaign.leader_bp
    else:
        group = _group(request, campaign)
        if group is None:
            raise LookupError(request.group_id)
        seat, tiers, size, leader_bp = group.seats + 1, group.tiers, group.size, 0
    bp = money.tier_for(tiers, min(seat, size))
    return money.unit_price(price, bp, leader_bp), bp, seat, size


def line_adjustments(context, line) -> list[Adjustment] | None:
    request, _problem = group_request(context.options)
    if request is None:
        return None
    campaign = get_campaign(request.campaign_id)
    if campaign is None or line.product_id != campaign.product_id or not campaign.covers(line.sku_id):
        return None
    try:
        unit, bp, seat, size = quote_unit(campaign, request, line.unit_price)
    except LookupError:
        return None
    amount = (unit - line.unit_price) * line.quantity
    if amount >= 0:
        return None
    if request.opening and campaign.leader_bp:
        label = _(
            "Group price: leader pays %(percent)s, plus %(leader)s off",
            percent=money.percent_text(bp),
            leader=money.percent_text(campaign.leader_bp),
        )
    else:
        label = _(
            "Group price: member %(seat)s of %(size)s pays %(percent)s",
            seat=seat,
            size=size,
            percent=money.percent_text(bp),
        )
    return [Adjustment("line", SOURCE, CODE, label, amount, line_index=line.index)]


def held_units(campaign_id: int, customer_id: int) -> int:
    row = db.session.get(ShopperUnits, (campaign_id, customer_id))
    return row.units if row is not None else 0


def is_new_customer(customer_id: int, except_order_id: int | None = None) -> bool:
    """No order of this shopper in this store was ever paid."""
    query = (
        sa.select(sa.func.count())
        .select_from(Order)
        .where(Order.customer_id == customer_id, Order.paid_at.is_not(None))
    )
    if except_order_id is not None:
        query = query.where(Order.id != except_order_id)
    return db.session.execute(query).scalar_one() == 0


def validate(context) -> list[Problem] | None:
    request, problem = group_request(context.options)
    if problem is not None:
        return [problem]
    if request is None:
        return None
    campaign = get_campaign(request.campaign_id)
    if campaign is None or (request.opening and not is_live(campaign)):
        return [Problem("groupbuy_not_running", _("This group buy is not running."))]
    if len(context.lines) != 1:
        return [Problem("groupbuy_one_item", _("A group-buy order holds one product option only."))]
    line = context.lines[0]
    if line.product_id != campaign.product_id or not campaign.covers(line.sku_id):
        return [Problem("groupbuy_wrong_item", _("This option is not part of the group buy."), 0)]
    problems = []
    group = None
    if not request.opening:
        group = _group(request, campaign)
        if group is None or group.status != "open" or aware(group.deadline) <= now():
            return [Problem("groupbuy_group_closed", _("This group is no longer open. Open a new one instead."))]
        if group.seats >= group.size:
            problems.append(Problem("groupbuy_group_full", _("This group is full. Open a new one instead.")))
    if campaign.per_order_limit and line.quantity > campaign.per_order_limit:
        problems.append(
            Problem(
                "groupbuy_order_limit", _("At most %(n)s per order in this group buy.", n=campaign.per_order_limit), 0
            )
        )
    if campaign.sold + line.quantity > campaign.quota:
        problems.append(
            Problem(
                "groupbuy_sold_out",
                _("Only %(n)s left in this group buy.", n=max(0, campaign.quota - campaign.sold)),
                0,
            )
        )
    if context.customer_id is not None:
        held = held_units(campaign.id, context.customer_id)
        if campaign.per_shopper_limit and held + line.quantity > campaign.per_shopper_limit:
            problems.append(
                Problem(
                    "groupbuy_shopper_limit",
                    _(
                        "At most %(n)s per shopper in this group buy, across all your orders (you have %(held)s).",
                        n=campaign.per_shopper_limit,
                        held=held,
                    ),
                    0,
                )
            )
        if campaign.new_customers_only and not is_new_customer(context.customer_id):
            problems.append(
                Problem("groupbuy_new_customers_only", _("This group buy is for first-time customers of the store."))
            )
        if group is not None and _is_member(group.id, context.customer_id):
            problems.append(Problem("groupbuy_already_member", _("You are already in this group.")))
    return problems or None


def _is_member(group_id: int, customer_id: int) -> bool:
    return (
        db.session.execute(
            sa.select(Member.id).where(
                Member.group_id == group_id, Member.customer_id == customer_id, Member.status.in_(("pending", "joined"))
            )
        ).first()
        is not None
    )


# --- reservations: one conditional UPDATE each ------------------------------------------------


def take_quota(campaign_id: int, quantity: int) -> bool:
    return (
        db.session.execute(
            sa.update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.sold + quantity <= Campaign.quota)
            .values(sold=Campaign.sold + quantity)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def release_quota(campaign_id: int, quantity: int) -> None:
    db.session.execute(
        sa.update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.sold >= quantity)
        .values(sold=Campaign.sold - quantity)
        .execution_options(synchronize_session=False)
    )


def take_units(campaign_id: int, customer_id: int, quantity: int, limit: int | None) -> bool:
    if db.session.get(ShopperUnits, (campaign_id, customer_id)) is None:
        try:
            with db.session.begin_nested():
                db.session.add(ShopperUnits(campaign_id=campaign_id, customer_id=customer_id, units=0))
                db.session.flush()
        except IntegrityError:  # a concurrent order of the same shopper made it first
            pass
    statement = sa.update(ShopperUnits).where(
        ShopperUnits.campaign_id == campaign_id, ShopperUnits.customer_id == customer_id
    )
    if limit:
        statement = statement.where(ShopperUnits.units + quantity <= limit)
    return (
        db.session.execute(
            statement.values(units=ShopperUnits.units + quantity).execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def release_units(campaign_id: int, customer_id: int, quantity: int) -> None:
    db.session.execute(
        sa.update(ShopperUnits)
        .where(
            ShopperUnits.campaign_id == campaign_id,
            ShopperUnits.customer_id == customer_id,
            ShopperUnits.units >= quantity,
        )
        .values(units=ShopperUnits.units - quantity)
        .execution_options(synchronize_session=False)
    )


def take_seat(group_id: int, at) -> bool:
    return (
        db.session.execute(
            sa.update(Group)
            .where(Group.id == group_id, Group.status == "open", Group.seats < Group.size, Group.deadline > at)
            .values(seats=Group.seats + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def placed(order, context) -> None:
    """Inside the order's transaction: reserve, record the member, shorten the time to pay."""
    request, _problem = group_request(context.options)
    if request is None:
        return
    campaign = get_campaign(request.campaign_id)
    line = order.lines[0]
    at = now()
    if not take_quota(campaign.id, line.quantity):
        raise CheckoutProblems([Problem("groupbuy_sold_out", _("This group buy has sold out."), 0)])
    if not take_units(campaign.id, order.customer_id, line.quantity, campaign.per_shopper_limit):
        raise CheckoutProblems(
            [
                Problem(
                    "groupbuy_shopper_limit",
                    _(
                        "At most %(n)s per shopper in this group buy, across all your orders.",
                        n=campaign.per_shopper_limit,
                    ),
                    0,
                )
            ]
        )
    group = None
    if not request.opening:
        group = _group(request, campaign)
        if group is None or not take_seat(group.id, at):
            raise CheckoutProblems([Problem("groupbuy_group_full", _("This group is full. Open a new one instead."))])
        db.session.refresh(group)
    member = Member(
        campaign_id=campaign.id,
        group_id=group.id if group else None,
        order_id=order.id,
        customer_id=order.customer_id,
        sku_id=line.sku_id,
        quantity=line.quantity,
        unit_price=line.unit_price,
        paid_unit=line.total // line.quantity,
        opener=request.opening,
        leader_bp=campaign.leader_bp if request.opening else 0,
        status="pending",
        placed_at=at,
    )
    db.session.add(member)
    db.session.flush()
    minutes = int(plugin_settings("groupbuy").get("unpaid_minutes") or 10)
    deadline = min(aware(order.pay_deadline), at + timedelta(minutes=minutes))
    if group is not None:
        deadline = min(deadline, aware(group.deadline))
    shorten_pay_deadline(order, deadline)
    log_event(
        "member_ordered",
        campaign_id=campaign.id,
        group_id=member.group_id,
        member_id=member.id,
        order_id=order.id,
        quantity=line.quantity,
        paid_unit=member.paid_unit,
        opening=request.opening,
    )
