"""Commission: earned when an order is paid, frozen once delivered, settled after the window.

* **Accrue** (order paid; never for a test order, which moved no money): for each line, its *paid* amount (the line's total after its own
  discounts, minus its pro-rata share of order-level discounts and coupons; shipping is not
  commissionable) × the rate of each paid level. Lines of flash sales and group buys earn
  nothing unless the merchant includes them; a product can be excluded or have its own rates.
  If writing fails, the order is remembered and the settlement sweep accrues it later, exactly
  once (commissions are unique per order line and level).
* **Freeze** (order delivered): pending → frozen until ``delivered_at + aftersale_window_days``.
* **Settle** (a periodic job, or the order's completion): frozen → withdrawable once the window
  is over and no after-sales request is open on the order.
* **Reverse** (a refund succeeded): each commission keeps ``amount × (total − refunded_total) //
  total`` of the order, so partial refunds pro-rate and a full refund reverses all of it; the
  difference leaves pending/frozen, or — settled already — is clawed back from the balance.

Every state change is a conditional UPDATE (``… WHERE status = :seen AND reversed_amount =
:seen``), so a refund racing the settlement job moves the money exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow.sdk import AfterSale, Order, db, store_setting
from mallow_distribution import ledger, rules
from mallow_distribution.binding import upline
from mallow_distribution.models import Commission, Distributor, Grade, MissedAccrual, ProductRule

log = logging.getLogger("mallow.plugins.distribution")
OPEN_AFTERSALE_STATES = ("requested", "approved", "returned")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


# --- What a line paid -------------------------------------------------------------------------


def paid_amounts(order) -> dict[int, int]:
    """``{order line id: fen actually paid for it}``: order-level discounts and coupons are
    shared out in proportion to the line totals (largest remainder, so the fen add up)."""
    lines = list(order.lines)
    totals = {line.id: max(0, int(line.total)) for line in lines}
    lines_total = sum(totals.values())
    if lines_total == 0:
        return {line.id: 0 for line in lines}
    order_level = [a for a in order.adjustments if a.line_id is None]
    discounts = -sum(int(a.amount) for a in order_level if a.stage in ("order", "coupon") and a.amount < 0)
    shipping = sum(int(a.amount) for a in order_level if a.stage == "shipping" and a.amount > 0)
    goods_paid = max(0, min(lines_total - discounts, int(order.total) - shipping))
    discount = lines_total - goods_paid
    if discount <= 0:
        return totals
    shares = {line_id: discount * total // lines_total for line_id, total in totals.items()}
    left = discount - sum(shares.values())
    by_remainder = sorted(totals, key=lambda line_id: (-(discount * totals[line_id] % lines_total), line_id))
    for line_id in by_remainder[:left]:
        shares[line_id] += 1
    return {line_id: totals[line_id] - shares[line_id] for line_id in totals}


def campaign_sources(order) -> dict[int, set[str]]:
    """``{line id: {"flashsale", …}}``: the campaign plugins that priced each line (an order-level
    adjustment of a campaign marks every line)."""
    found: dict[int, set[str]] = {line.id: set() for line in order.lines}
    for adjustment in order.adjustments:
        if adjustment.source not in rules.CAMPAIGN_SOURCES:
            continue
        targets = [adjustment.line_id] if adjustment.line_id is not None else list(found)
        for line_id in targets:
            found.setdefault(line_id, set()).add(adjustment.source)
    return found


# --- Rates ----------------------------------------------------------------------------------


def _rate(level: int, distributor: Distributor, product_rule: ProductRule | None, values: dict) -> int:
    """Product rate, else the distributor's grade rate, else the store's rate (basis points)."""
    column = f"level{level}_rate_bp"
    if product_rule is not None and getattr(product_rule, column) is not None:
        return int(getattr(product_rule, column))
    if distributor.grade_id is not None:
        grade = db.session.get(Grade, distributor.grade_id)
        if grade is not None and getattr(grade, column) is not None:
            return int(getattr(grade, column))
    return int(values.get(column, 0) or 0)


# --- Accrue ---------------------------------------------------------------------------------


def accrue(order, now: datetime | None = None) -> list[Commission]:
    """Write the order's commissions and post them to ``pending`` (once per order). A test order
    (``order.is_test``: paid through the sandbox, no money moved) earns nothing."""
    if getattr(order, "is_test", False):
        return []
    values = rules.settings()
    if not values:
        return []
    if db.session.execute(sa.select(Commission.id).where(Commission.order_id == order.id).limit(1)).first():
        return []  # accrued already (a replayed notification)
    paid = upline(order.customer_id, rules.levels(values), now)
    if not paid:
        return []
    amounts = paid_amounts(order)
    campaigns = campaign_sources(order)
    product_ids = {line.product_id for line in order.lines}
    product_rules = (
        {
            rule.product_id: rule
            for rule in db.session.execute(
                sa.select(ProductRule).where(ProductRule.product_id.in_(product_ids))
            ).scalars()
        }
        if product_ids
        else {}
    )
    written = []
    for line in order.lines:
        if any(not values.get(rules.CAMPAIGN_SOURCES[source]) for source in campaigns.get(line.id, ())):
            continue
        product_rule = product_rules.get(line.product_id)
        if product_rule is not None and product_rule.excluded:
            continue
        base = amounts.get(line.id, 0)
        wanted = [_rate(level, distributor, product_rule, values) for level, distributor in enumerate(paid, 1)]
        rates = rules.clamp_rates(wanted[0], wanted[1] if len(wanted) > 1 else 0)
        for level, distributor in enumerate(paid, 1):
            amount = rules.commission_for(base, rates[level - 1])
            if amount <= 0:
                continue
            commission = Commission(
                order_id=order.id,
                order_number=order.number,
                order_line_id=line.id,
                product_id=line.product_id,
                buyer_id=order.customer_id,
                distributor_id=distributor.id,
                level=level,
                base=base,
                rate_bp=rates[level - 1],
                amount=amount,
                reversed_amount=0,
                status="pending",
            )
            db.session.add(commission)
            db.session.flush()
            ledger.post(distributor.id, "accrue", amount, "merchant", "pending", commission_id=commission.id)
            written.append(commission)
    return written


def accrue_later(order) -> None:
    """The order's commissions could not be written when it was paid: the sweep will."""
    if db.session.get(MissedAccrual, order.id) is None:
        db.session.add(MissedAccrual(order_id=order.id))
        db.session.flush()


def catch_up_accruals(limit: int = 200) -> int:
    """Accrue the paid orders remembered by :func:`accrue_later` (as of their payment), each in
    its own savepoint; returns how many orders were accrued. Repeating it changes nothing."""
    caught = 0
    owed = db.session.execute(sa.select(MissedAccrual).order_by(MissedAccrual.order_id).limit(limit)).scalars().all()
    for missed in owed:
        order = db.session.get(Order, missed.order_id)
        try:
            with db.session.begin_nested():
                if order is not None and order.paid_at is not None:
                    caught += bool(accrue(order, now=_aware(order.paid_at)))
                db.session.delete(missed)
        except IntegrityError:  # accrued meanwhile by someone else: the unique key kept it once
            log.info("distribution: order %s was accrued meanwhile", missed.order_id)
        except Exception:
            log.exception("distribution: commission for order %s still cannot be written", missed.order_id)
    return caught


# --- Freeze and settle ------------------------------------------------------------------------


def _move(commission: Commission, target: str, **values) -> bool:
    """pending → frozen → settled, if nobody moved or reversed it since it was read."""
    result = db.session.execute(
        sa.update(Commission)
        .where(
            Commission.id == commission.id,
            Commission.status == commission.status,
            Commission.reversed_amount == commission.reversed_amount,
        )
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def freeze_order(order, now: datetime | None = None) -> int:
    """The order was delivered: its pending commissions wait out the after-sales window."""
    if order.delivered_at is None:
        return 0
    release = _aware(order.delivered_at) + timedelta(days=int(store_setting("aftersale_window_days")))
    frozen = 0
    for commission in (
        db.session.execute(
            sa.select(Commission)
            .where(Commission.order_id == order.id, Commission.status == "pending")
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    ):
        net = commission.net
        if _move(commission, "frozen", release_at=release):
            ledger.post(commission.distributor_id, "freeze", net, "pending", "frozen", commission_id=commission.id)
            frozen += 1
    return frozen


def _has_open_aftersale(order_id: int) -> bool:
    return (
        db.session.execute(
            sa.select(AfterSale.id)
            .where(AfterSale.order_id == order_id, AfterSale.status.in_(OPEN_AFTERSALE_STATES))
            .limit(1)
        ).first()
        is not None
    )


def settle_order(order_id: int, now: datetime | None = None) -> int:
    """Frozen commissions of an order whose window is over (and no request open) → withdrawable."""
    now = now or _now()
    due = (
        db.session.execute(
            sa.select(Commission)
            .where(Commission.order_id == order_id, Commission.status == "frozen", Commission.release_at <= now)
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    if not due or _has_open_aftersale(order_id):
        return 0
    settled = 0
    for commission in due:
        net = commission.net
        if _move(commission, "settled", settled_at=now):
            ledger.post(commission.distributor_id, "settle", net, "frozen", "withdrawable", commission_id=commission.id)
            settled += 1
    return settled


def sweep(now: datetime | None = None) -> dict:
    """The store's commission timers (run by the periodic job): accrue what the payment hook
    could not, catch up on refunds, freeze delivered orders' pending commissions, settle those
    whose after-sales window is over. Idempotent."""
    now = now or _now()
    counts = {"accrued": catch_up_accruals(), "frozen": 0, "settled": 0}
    # refunds whose hook did not run (plugin switched off meanwhile, or a failure) before the
    # money settled: catch up (a bounded set: only commissions still pending or frozen)
    unsettled = sa.select(Commission.order_id).where(Commission.status.in_(("pending", "frozen")))
    refunded = (
        db.session.execute(sa.select(Order).where(Order.id.in_(unsettled), Order.refunded_total > 0)).scalars().all()
    )
    for order in refunded:
        reverse_for_refund(order)
    delivered = (
        db.session.execute(
            sa.select(Order).where(
                Order.id.in_(sa.select(Commission.order_id).where(Commission.status == "pending")),
                Order.status.in_(("delivered", "completed")),
                Order.delivered_at.is_not(None),
            )
        )
        .scalars()
        .all()
    )
    for order in delivered:
        counts["frozen"] += freeze_order(order, now)
    due = (
        db.session.execute(
            sa.select(Commission.order_id).where(Commission.status == "frozen", Commission.release_at <= now).distinct()
        )
        .scalars()
        .all()
    )
    for order_id in due:
        counts["settled"] += settle_order(order_id, now)
    db.session.commit()
    return counts


# --- Reverse ----------------------------------------------------------------------------------

REVERSE_FROM = {
    "pending": ("reverse", "pending"),
    "frozen": ("reverse", "frozen"),
    "settled": ("clawback", "withdrawable"),
}


def reverse_for_refund(order) -> int:
    """After a refund: bring every commission of the order down to its share of what the shopper
    kept. Returns the fen taken back. Repeating it changes nothing."""
    total = int(order.total)
    kept = max(0, total - int(order.refunded_total or 0))
    taken = 0
    for commission in (
        db.session.execute(sa.select(Commission).where(Commission.order_id == order.id).order_by(Commission.id))
        .scalars()
        .all()
    ):
        for _attempt in range(5):
            db.session.refresh(commission)
            target_net = commission.amount * kept // total if total > 0 else 0
            delta = commission.net - target_net
            if delta <= 0 or commission.status not in REVERSE_FROM:
                break
            kind, account = REVERSE_FROM[commission.status]
            new_reversed = commission.reversed_amount + delta
            status = "reversed" if new_reversed == commission.amount else commission.status
            moved = db.session.execute(
                sa.update(Commission)
                .where(
                    Commission.id == commission.id,
                    Commission.status == commission.status,
                    Commission.reversed_amount == commission.reversed_amount,
                )
                .values(reversed_amount=new_reversed, status=status)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount == 1:
                ledger.post(commission.distributor_id, kind, delta, account, "merchant", commission_id=commission.id)
                taken += delta
                break
    return taken
