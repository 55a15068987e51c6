"""The membership in pricing and on orders: Mallow's own implementations of the checkout and
order hooks (registered as core hooks by ``create_app``, beside the coupons), and the points
stage (registered with :func:`mallow.pricing.pipeline.register_payment_stage`).

Nothing here runs for a store whose programme is off (``program()["enabled"]``), and nothing
but one read of the member's level for a guest-free checkout that names no points.

* ``mallow_line_adjustments``: the member's level price (会员价, ``discount_percent`` < 100) is a
  line proposal of source ``membership``: it competes with flash-sale and group prices on each
  line (the best one wins, never stacked). The discount is ``floor(base × (100 − pct) / 100)``:
  rounded in the shopper's favour by less than a fen, never against them.
* ``mallow_shipping_fee``: a level with free shipping answers the templates' fee with 0 (Mallow's
  own implementations are asked in reverse registration order: this one before the templates);
  an address the templates cannot serve is still refused.
* :func:`points_stage`: the checkout's ``options["points"]`` (a number of points, ``"max"``, or
  absent / 0 / ``"none"``) becomes ``Adjustment(stage="points", source="membership")`` against the
  goods total after coupons: at most ``redeem_cap_percent`` of it and the balance, in whole fen;
  asking for more than that is a ``points_over_limit`` problem (the quote shows it, the order is
  refused).
* ``mallow_order_placed``: the points are debited in the order's transaction with a conditional
  UPDATE: a balance spent meanwhile (another order, a clawback) refuses the order
  (``points_insufficient``), nothing written.
* ``mallow_order_cancelled``: the redeemed points come back (a ``return`` lot).
* ``mallow_order_refunded``: after refunds totalling R of the order's total T, the redeemed points
  returned are ``floor(redeemed × R / T)`` in all (partial refunds never return more than was
  redeemed); points earned by a completed order are clawed back the same way, against the goods
  they were earned on, and so is the growth. A refund before completion only lowers what
  completion earns.
* ``mallow_order_completed``: the order earns ``floor(goods paid net of refunds × earn_per_yuan
  / 100)`` points (a lot) and adds growth (the goods fen, or the points earned, by
  ``level_basis``); the level is recomputed. A test order (sandbox) earns nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.db import db
from mallow.membership import service
from mallow.membership.models import PointEntry
from mallow.orders.checkout import CheckoutProblems, CheckoutRead
from mallow.plugins.hookspecs import hookimpl
from mallow.pricing.model import Adjustment, PricingContext, PricingLine, Problem
from mallow.shipping import fees as shipping_fees

OPTION = "points"
SOURCE = "membership"
#: where this pricing's level and points decision wait on the context
_LEVEL = "_mallow_member_level"
_POINTS = "_mallow_points_decision"
_LABEL = "_mallow_member_price_label"
_READ = "_mallow_member_level_read"


def _program(context: PricingContext) -> dict:
    kept = context.__dict__.get("_mallow_membership_program")
    if kept is None:
        kept = context.__dict__["_mallow_membership_program"] = service.program()
    return kept


def _level(context: PricingContext) -> service.LevelTerms | None:
    """The shopper's level for this pricing (asked once; an order reads it with its own read,
    :data:`LEVEL_READ`), None for a guest or when off."""
    if context.customer_id is None:
        return None
    if _LEVEL not in context.__dict__:
        if not _program(context)["enabled"]:
            level = None
        elif _READ in context.__dict__:
            level = context.__dict__[_READ][0]
        else:
            level = service.level_terms(context.customer_id)
        context.__dict__[_LEVEL] = level
    return context.__dict__[_LEVEL]


def _balance(context: PricingContext) -> int | None:
    """The points balance the order's read found (None: not read with the order)."""
    read = context.__dict__.get(_READ)
    return read[1] if read is not None else None


def _level_columns(customer_id: sa.ColumnElement) -> list[sa.ColumnElement]:
    """:func:`mallow.membership.service.level_terms` and the points balance as scalar subqueries
    of the shopper's id."""
    level = service.level_terms_select(customer_id).cte("lv")
    return [*(sa.select(column).scalar_subquery() for column in level.c), service.balance_select(customer_id)]


def _level_value(values: tuple) -> tuple[service.LevelTerms | None, int]:
    level_id, name, percent, free_shipping, balance = values
    level = None if level_id is None else service.LevelTerms(level_id, name, int(percent), bool(free_shipping))
    return level, int(balance or 0)


#: the shopper's level and points balance read by the order's one read statement instead of
#: statements of their own (``create_app`` registers it: :func:`mallow.orders.checkout.register_read`)
LEVEL_READ = CheckoutRead(_READ, _level_columns, _level_value)


def _level_label(context: PricingContext, level: service.LevelTerms) -> str:
    """The member price's label, translated once per pricing (not once per line)."""
    label = context.__dict__.get(_LABEL)
    if label is None:
        label = context.__dict__[_LABEL] = _("Member price (%(level)s)", level=level.name)[:120]
    return label


def level_discount(base: int, percent: int) -> int:
    """The level's discount on ``base`` fen (a negative amount, or 0)."""
    return -(base * (100 - percent) // 100) if percent < 100 else 0


@hookimpl
def mallow_line_adjustments(context: PricingContext, line: PricingLine):
    level = _level(context)
    if level is None or level.discount_percent >= 100:
        return None
    amount = level_discount(line.base_total, level.discount_percent)
    if not amount:
        return None
    return [Adjustment("line", SOURCE, f"member_level:{level.id}", _level_label(context, level), amount, line.index)]


@hookimpl
def mallow_shipping_fee(context: PricingContext, subtotal: int):
    level = _level(context)
    if level is None or not level.free_shipping:
        return None
    answer = shipping_fees.mallow_shipping_fee(context=context, subtotal=subtotal)
    if answer is None or isinstance(answer, Problem):
        return answer  # nothing to waive, or an address the templates cannot serve
    return Adjustment("shipping", SOURCE, "member_free_shipping", _("Free shipping for members"), 0)


def choice_of(options) -> int | str | None:
    """``options["points"]``: a number of points, ``"max"``, None (none asked: absent, 0,
    ``"none"``), or ``"invalid"``."""
    if not isinstance(options, dict) or OPTION not in options:
        return None
    raw = options[OPTION]
    if raw in (None, "", 0, "0", "none"):
        return None
    if raw == "max":
        return "max"
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= service.MAX_POINTS:
        return "invalid"
    return raw


def _label(points: int) -> str:
    return _("Points: %(points)s used", points=points)


def points_stage(context: PricingContext, subtotal: int):
    """The points stage (see the module): an adjustment, a problem, or None."""
    choice = choice_of(context.options)
    context.__dict__[_POINTS] = None
    if choice is None:
        return None
    if choice == "invalid":
        return Problem("points_invalid", _("Enter a whole number of points."))
    if context.customer_id is None:
        return Problem("points_sign_in", _("Sign in to use points."))
    rules = _program(context)
    if not rules["enabled"]:
        return None if choice == "max" else Problem("points_off", _("This store does not take points."))
    found = service.redeemable(context.customer_id, subtotal, _balance(context))
    if choice == "max":
        points = found.max_points
    else:
        points = service.usable_points(int(choice), found.points_per_yuan)
        if points > found.max_points:  # whole fen first: 995 points at 10 a fen ask for 990
            return Problem(
                "points_over_limit", _("You can use at most %(points)s points on this order.", points=found.max_points)
            )
    value = service.points_value(points, found.points_per_yuan)
    if points <= 0 or value <= 0:
        return None
    context.__dict__[_POINTS] = points
    return Adjustment("points", SOURCE, f"points:{points}", _label(points)[:120], -value)


@hookimpl
def mallow_order_placed(order, context: PricingContext):
    """Debit the order's points in its transaction (see the module)."""
    if OPTION not in context.options:
        return None
    points = context.__dict__.get(_POINTS)
    if not points:
        return None
    code = f"points:{points}"
    if not any(a.stage == "points" and a.code == code for a in order.adjustments):
        return None  # the pipeline left it out: nothing to debit
    try:
        service.write_entry(
            order.customer_id,
            "redeem",
            -points,
            _("Used on order %(number)s", number=order.number),
            order_id=order.id,
        )
    except service.PointsRefused:
        raise CheckoutProblems(
            [Problem("points_insufficient", _("Your points balance changed: check the order again."))]
        ) from None
    return None


def _sums(order_id: int) -> dict[str, tuple[int, int, int]]:
    """Per kind, the order's entries: ``(points, growth, basis)`` summed."""
    rows = db.session.execute(
        sa.select(
            PointEntry.kind,
            sa.func.coalesce(sa.func.sum(PointEntry.points), 0),
            sa.func.coalesce(sa.func.sum(PointEntry.growth), 0),
            sa.func.coalesce(sa.func.sum(PointEntry.basis), 0),
        )
        .where(PointEntry.order_id == order_id)
        .group_by(PointEntry.kind)
    ).all()
    return {kind: (int(p), int(g), int(b)) for kind, p, g, b in rows}


def _goods_paid(order) -> int:
    """What the shopper paid for the goods: the order's total without its shipping."""
    shipping = sum(int(a.amount) for a in order.adjustments if a.stage == "shipping")
    return max(0, int(order.total or 0) - shipping)


@hookimpl
def mallow_order_cancelled(order, reason: str):
    """An unpaid order was cancelled: the points it used are the shopper's again."""
    sums = _sums(order.id)
    redeemed = -sums.get("redeem", (0, 0, 0))[0]
    returned = sums.get("return", (0, 0, 0))[0]
    if redeemed - returned > 0:
        service.write_entry(
            order.customer_id,
            "return",
            redeemed - returned,
            _("Returned: order %(number)s cancelled", number=order.number),
            order_id=order.id,
        )


@hookimpl
def mallow_order_refunded(order, refund):
    """Return redeemed points and claw back earned ones in proportion (see the module)."""
    sums = _sums(order.id)
    total, refunded = int(order.total or 0), int(order.refunded_total or 0)
    redeemed = -sums.get("redeem", (0, 0, 0))[0]
    if redeemed > 0 and total > 0:
        due = redeemed * min(refunded, total) // total - sums.get("return", (0, 0, 0))[0]
        if due > 0:
            service.write_entry(
                order.customer_id,
                "return",
                due,
                _("Returned: order %(number)s refunded", number=order.number),
                order_id=order.id,
            )
    earned, growth, basis = sums.get("earn", (0, 0, 0))
    if basis <= 0 or (earned <= 0 and growth <= 0):
        return
    left = min(max(0, _goods_paid(order) - refunded), basis)  # goods the earned points still stand on
    clawed, ungrown, _b = sums.get("clawback", (0, 0, 0))
    points_due = earned - earned * left // basis + clawed  # clawed is negative: what was taken already
    growth_due = growth - growth * left // basis + ungrown
    if points_due > 0 or growth_due > 0:
        service.write_entry(
            order.customer_id,
            "clawback",
            -max(points_due, 0),
            _("Taken back: order %(number)s refunded", number=order.number),
            order_id=order.id,
            overdraw=True,
            growth=-max(growth_due, 0),
        )
        service.change_growth(order.customer_id, -max(growth_due, 0))


@hookimpl
def mallow_order_completed(order):
    """Earn points and growth on a completed order (see the module)."""
    if order.is_test:
        return
    rules = service.program()
    if not rules["enabled"] or "earn" in _sums(order.id):
        return
    basis = max(0, _goods_paid(order) - int(order.refunded_total or 0))
    if basis <= 0:
        return
    points = basis * int(rules["earn_per_yuan"]) // 100
    growth = basis if rules["level_basis"] == "spend" else points
    service.write_entry(
        order.customer_id,
        "earn",
        points,
        _("Earned: order %(number)s completed", number=order.number),
        order_id=order.id,
        growth=growth,
        basis=basis,
    )
    service.change_growth(order.customer_id, growth)


def goods_payable(priced) -> int:
    """The goods total of a priced order after every discount, before points and shipping: what
    the points stage was asked with."""
    return int(priced.total) - sum(int(a.amount) for a in priced.adjustments if a.stage in ("points", "shipping"))


def quote_points(context: PricingContext, priced) -> dict:
    """The points choice of a checkout (the quote shows it): ``enabled``, the shopper's
    ``balance``, the most points ``usable`` on it and their ``value_fen``, the points ``applied``
    and what they took off (``applied_fen``), and ``points_per_yuan``."""
    found = service.redeemable(context.customer_id, goods_payable(priced))
    applied = next((a for a in priced.adjustments if a.stage == "points" and a.source == SOURCE), None)
    return {
        "enabled": bool(_program(context)["enabled"]),
        "balance": found.balance,
        "usable": found.max_points,
        "value_fen": found.max_value_fen,
        "applied": int(context.__dict__.get(_POINTS) or 0) if applied is not None else 0,
        "applied_fen": -int(applied.amount) if applied is not None else 0,
        "points_per_yuan": found.points_per_yuan,
    }
