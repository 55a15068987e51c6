"""The coupon stage of pricing and the coupon's life on an order: Mallow's own implementations
of the checkout and order hooks (registered as core hooks by ``create_app``).

The checkout's ``options["coupon"]`` chooses: a customer-coupon id of the shopper, ``"best"``
(the biggest saving, or none when none can be used) or ``"none"``. A checkout that names no
coupon costs nothing here: every hook looks at the options first and answers None (no statement).

* ``mallow_order_adjustments`` decides (the shopper's coupon against the lines as the line stage
  priced them, ``context.priced_lines``), keeps the decision on the context and proposes the
  ``Adjustment(stage="coupon", exclusive_group="coupon")``, labelled with the coupon's name (kept
  on the order: receipts show it); a coupon that cannot be used is answered as a
  ``coupon_unusable`` problem saying why (the quote shows it, the order is refused);
* ``mallow_order_placed`` locks the coupon on the order in the order's transaction (a coupon
  locked meanwhile by another order refuses this one);
* ``mallow_order_paid``: locked → used; ``mallow_order_cancelled`` (unpaid): locked → available;
  ``mallow_order_refunded``: a *full* refund returns a used coupon still within its validity
  (``returned``, usable again); a partial refund keeps it used.

Lines: a coupon needs each line's price after its line adjustment and which plugin priced it
(flash-sale lines take no coupon unless allowed): :func:`cart_lines` reads them from
``context.priced_lines``, which the pipeline fills before the order stage (the line hooks are
asked once per pricing).
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.catalog.models import Product
from mallow.coupons import rules
from mallow.coupons.models import USABLE_STATES, Coupon, CustomerCoupon
from mallow.coupons.service import Choices, choices
from mallow.db import db
from mallow.orders.checkout import CheckoutProblems
from mallow.plugins.hookspecs import hookimpl
from mallow.pricing import pipeline
from mallow.pricing.model import Adjustment, PricingContext, Problem
from mallow.web.ids import id_value

OPTION = "coupon"
SOURCE = "coupon"
#: where the decision waits on the pricing context between the hooks of one pricing
_KEPT = "_mallow_coupon_decision"


class Decision:
    __slots__ = ("adjustment", "choices", "holding_id", "problem")

    def __init__(self, holding_id=None, adjustment=None, problem=None, found: Choices | None = None):
        self.holding_id, self.adjustment, self.problem = holding_id, adjustment, problem
        self.choices = found


def _now() -> datetime:
    return datetime.now(UTC)


def choice_of(options) -> int | str | None:
    """``options["coupon"]``: a holding id, ``"best"``, or None (none asked, or ``"none"``);
    ``"invalid"`` for anything else."""
    if not isinstance(options, dict) or OPTION not in options:
        return None
    raw = options[OPTION]
    if raw is None or raw == "none" or raw == "":
        return None
    if raw == "best":
        return "best"
    value = id_value(raw)
    return value if value is not None else "invalid"


def cart_lines(context: PricingContext) -> list[rules.CartLine]:
    """Each line of the checkout as the pipeline priced it (``context.priced_lines``: its admitted
    line discount, and the plugin that gave it), with its product's category."""
    priced = context.priced_lines or []
    categories = dict(
        db.session.execute(
            sa.select(Product.id, Product.category_id).where(
                Product.id.in_(sorted({p.line.product_id for p in priced}))
            )
        ).all()
    )
    return [
        rules.CartLine(
            p.line.index,
            p.line.product_id,
            categories.get(p.line.product_id),
            p.total,
            frozenset(a.source for a in p.adjustments),
        )
        for p in priced
    ]


def _adjustment(holding: CustomerCoupon, saving: int) -> Adjustment:
    label = _("Coupon: %(name)s", name=holding.coupon.name)
    return Adjustment("coupon", SOURCE, f"coupon:{holding.id}", label[:120], -saving, exclusive_group="coupon")


def decide(context: PricingContext) -> Decision | None:
    """The coupon of this checkout (kept on the context: asked once per pricing)."""
    kept = context.__dict__.get(_KEPT)
    if kept is not None:
        return kept
    choice = choice_of(context.options)
    if choice is None:
        return None
    if choice == "invalid":
        decision = Decision(problem=Problem("coupon_invalid", _("Choose one of your coupons.")))
    elif context.customer_id is None:
        decision = Decision(problem=Problem("coupon_sign_in", _("Sign in to use a coupon.")))
    else:
        found = choices(context.customer_id, cart_lines(context), _now())
        if choice == "best":
            best = found.best
            decision = Decision(found=found)
            if best is not None:
                decision = Decision(best.holding.id, _adjustment(best.holding, best.verdict.saving), found=found)
        else:
            option = next((o for o in found.usable + found.unusable if o.holding.id == choice), None)
            if option is None:
                decision = Decision(
                    problem=Problem("coupon_unavailable", _("This coupon is not yours, or it was used already.")),
                    found=found,
                )
            elif not option.verdict.usable:
                decision = Decision(problem=Problem("coupon_unusable", option.verdict.message), found=found)
            else:
                decision = Decision(option.holding.id, _adjustment(option.holding, option.verdict.saving), found=found)
    context.__dict__[_KEPT] = decision
    return decision


@hookimpl
def mallow_order_adjustments(context: PricingContext, subtotal: int):
    if OPTION not in context.options:
        return None
    decision = decide(context)  # the lines as priced are on the context now
    if decision is None:
        return None
    if decision.problem is not None:  # the checkout shows why, and refuses the order
        return [decision.problem]
    return [decision.adjustment] if decision.adjustment is not None else None


@hookimpl
def mallow_order_placed(order, context: PricingContext):
    """Lock the order's coupon in the order's transaction (the adjustment the order kept names it)."""
    if OPTION not in context.options:
        return None
    decision = context.__dict__.get(_KEPT)
    if decision is None or decision.holding_id is None:
        return None
    code = f"coupon:{decision.holding_id}"
    if not any(a.stage == "coupon" and a.code == code for a in order.adjustments):
        return None  # the pipeline left it out (nothing left to take off): the coupon stays the shopper's
    locked = db.session.execute(
        sa.update(CustomerCoupon)
        .where(
            CustomerCoupon.id == decision.holding_id,
            CustomerCoupon.customer_id == order.customer_id,
            CustomerCoupon.status.in_(USABLE_STATES),
        )
        .values(status="locked", order_id=order.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if locked != 1:
        raise CheckoutProblems([Problem("coupon_unavailable", _("This coupon is not yours, or it was used already."))])
    return None


def _count_used(coupon_ids, change: int) -> None:
    for coupon_id in sorted(coupon_ids):
        db.session.execute(
            sa.update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.used_count + change >= 0)
            .values(used_count=Coupon.used_count + change)
            .execution_options(synchronize_session=False)
        )


@hookimpl
def mallow_order_paid(order):
    """locked → used (one UPDATE; nothing more for an order without a coupon)."""
    used = (
        db.session.execute(
            sa.update(CustomerCoupon)
            .where(CustomerCoupon.order_id == order.id, CustomerCoupon.status == "locked")
            .values(status="used", used_at=_now())
            .returning(CustomerCoupon.coupon_id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if used:
        _count_used(used, +1)


@hookimpl
def mallow_order_cancelled(order, reason: str):
    """An unpaid order was cancelled: its coupon is the shopper's again."""
    db.session.execute(
        sa.update(CustomerCoupon)
        .where(CustomerCoupon.order_id == order.id, CustomerCoupon.status == "locked")
        .values(status="available", order_id=None)
        .execution_options(synchronize_session=False)
    )


@hookimpl
def mallow_order_refunded(order, refund):
    """A full refund gives a used coupon back while it is still valid; a partial one does not."""
    if int(order.refunded_total or 0) < int(order.total or 0):
        return
    returned = (
        db.session.execute(
            sa.update(CustomerCoupon)
            .where(
                CustomerCoupon.order_id == order.id,
                CustomerCoupon.status == "used",
                CustomerCoupon.valid_until > _now(),
            )
            .values(status="returned")
            .returning(CustomerCoupon.coupon_id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if returned:
        _count_used(returned, -1)


def choices_for_items(customer_id: int, items: list[dict], found: dict | None = None) -> Choices:
    """The shopper's coupons against ``items`` (``[{"sku_id", "quantity"}]``, e.g. their cart):
    usable best first, the others with why. A cart that cannot be priced (empty, something no
    longer for sale) leaves every coupon unusable for it."""
    from mallow.orders import checkout
    from mallow.validation import ValidationFailed

    lines: list[rules.CartLine] = []
    if items:
        try:
            context = checkout.build_context(customer_id, items, None, {OPTION: "best"}, found)
        except ValidationFailed:
            context = None
        if context is not None:
            pipeline.price(context)  # the line stage fills context.priced_lines (hooks asked once)
            lines = cart_lines(context)
    return choices(customer_id, lines, _now())
