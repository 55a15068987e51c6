"""The flash sale in the core's checkout: validation, the sale price, units taken and returned.

**Opting in.** A line is a flash-sale line only when the checkout names the sale:
``options={"flashsale": {"sale_id": 12}}`` (the buy endpoint does this; the store API's
``createOrder`` accepts the same option). A SKU that is in a sale but bought through the
ordinary cart pays its regular price and takes nothing from the sale. Why not price such lines
automatically: the sale has its own rules (limits, one unpaid order, a 5-minute payment window)
that would otherwise ambush an ordinary cart, and a quote promising the sale price could not be
honoured once the quota is gone between quote and order. With the option, what the shopper sees
is what they pay, or a clear "sold out".

**Which lines.** Every line of an opted-in order whose SKU is in the sale counts against the sale
(quota, limits, the short payment window), whichever line price the pipeline chose in the end (a
plugin proposing a bigger discount wins the line, and the units are still the sale's).

**Commission.** The sale price is a line adjustment with ``source="flashsale"`` and
``code="sale-<id>"``, kept on the order: that source is what the distribution plugin reads to
leave the line out of commission (its ``include_flashsale`` setting, off by default, turns it
back on). A line whose price another plugin won carries that plugin's adjustment instead.
"""

from __future__ import annotations

from datetime import timedelta

from flask import g
from sqlalchemy.orm import joinedload

from mallow.sdk import (
    Adjustment,
    CheckoutProblems,
    Problem,
    SoldOut,
    current_store,
    db,
    id_value,
    plugin_settings,
)
from mallow_flashsale import flags, gate, quota, timing, txn
from mallow_flashsale.i18n import _
from mallow_flashsale.models import Sale, aware

SOURCE = "flashsale"
GATE_KEY = "mallow_flashsale_gate"  # reservations the buy endpoint made, by item id
SALES_KEY = "mallow_flashsale_sales"  # the sales this request's checkout read, by id


def settings() -> dict:
    return plugin_settings("flashsale")


def requested_sale_id(context) -> int | None | bool:
    """The sale the checkout opted into; None without the option; False when it is malformed."""
    option = (context.options or {}).get("flashsale")
    if option is None:
        return None
    try:
        sale_id = option["sale_id"] if isinstance(option, dict) else None
        if type(sale_id) is not int or id_value(sale_id) is None:
            raise ValueError
        return sale_id
    except (KeyError, TypeError, ValueError):
        return False


def load_sale(sale_id: int):
    """The sale with its items, once per request (the checkout's hooks all read it): the buy
    endpoint hands over its snapshot (:class:`mallow_flashsale.flags.SaleSnapshot`, no query:
    the units UPDATE checks the window and the price against the database's rows); any other
    checkout reads the sale with its items in one statement."""
    cache = g.setdefault(SALES_KEY, {})
    if sale_id not in cache:
        cache[sale_id] = db.session.get(Sale, sale_id, options=[joinedload(Sale.items)])
    return cache[sale_id]


def sale_items(sale) -> dict:
    """The sale's items by SKU id (a snapshot keeps them so; a Sale row has a list)."""
    items = sale.items
    return items if isinstance(items, dict) else {item.sku_id: item for item in items}


def adjustment_code(sale_id: int) -> str:
    return f"sale-{sale_id}"


# --- pricing hooks ---------------------------------------------------------------------------


def validate(context) -> list[Problem] | None:
    """The sale's window, its SKUs, the per-order limit and the units left (``Problem`` values)."""
    sale_id = requested_sale_id(context)
    if sale_id is None:
        return None
    sale = load_sale(sale_id) if sale_id else None
    now = timing.now()
    state = sale.state(now) if sale is not None else "missing"
    if state in ("missing", "draft", "hidden"):
        return [Problem("flashsale_not_found", _("This flash sale cannot be found."))]
    if state == "preheat":
        return [Problem("flashsale_not_started", _("The flash sale has not started yet."))]
    if state == "ended":
        return [Problem("flashsale_ended", _("The flash sale is over."))]
    items = sale_items(sale)
    lines = [(line, items[line.sku_id]) for line in context.lines if line.sku_id in items]
    if not lines:
        return [Problem("flashsale_not_in_sale", _("These items are not in this flash sale."))]
    problems = []
    quantity = sum(line.quantity for line, _item in lines)
    if sale.per_order_limit and quantity > sale.per_order_limit:
        problems.append(
            Problem(
                "flashsale_order_limit",
                _("At most %(limit)s per order in this flash sale.", limit=sale.per_order_limit),
            )
        )
    for line, item in lines:
        remaining = getattr(item, "remaining", None)  # a snapshot's: unknown, the UPDATE decides
        if remaining is None:
            continue
        if remaining <= 0:
            problems.append(
                Problem(
                    "flashsale_sold_out", _("%(title)s is sold out in this flash sale.", title=line.title), line.index
                )
            )
        elif remaining < line.quantity:
            problems.append(
                Problem(
                    "flashsale_not_enough",
                    _("Only %(left)s left of %(title)s in this flash sale.", left=remaining, title=line.title),
                    line.index,
                )
            )
    # the shopper's unpaid order and limits are checked where they can be trusted: in the order's
    # transaction (order_placed), after the buy endpoint's gate or pre-check turned most away
    if problems:
        return problems
    # the sale's short payment window, written with the order (not an UPDATE after it)
    context.pay_within(now + timedelta(minutes=int(settings().get("unpaid_minutes") or 5)))
    return None


def line_adjustments(context, line) -> list[Adjustment] | None:
    sale_id = requested_sale_id(context)
    if not sale_id:
        return None
    sale = load_sale(sale_id)
    if sale is None or sale.state(timing.now()) != "live":
        return None
    item = sale_items(sale).get(line.sku_id)
    if item is None or item.sale_price >= line.unit_price:
        return None
    label = _("Flash sale: %(title)s", title=sale.title)
    return [
        Adjustment(
            "line",
            SOURCE,
            adjustment_code(sale.id),
            label[:120],
            (item.sale_price - line.unit_price) * line.quantity,
            line_index=line.index,
        )
    ]


# --- order lifecycle hooks --------------------------------------------------------------------


def order_placed(order, context) -> None:
    """Take the sale's units for the order, inside its transaction (raise: nothing is kept).

    A reservation the buy endpoint made in the gate (``g``) is the endpoint's: it settles it
    once ``place_order`` returned (committed) and gives it back otherwise, with no transaction
    callback. A checkout that did not come through the endpoint passes the gate here, and its
    reservation is given back when the transaction rolls back."""
    sale_id = requested_sale_id(context)
    if not sale_id:
        return
    sale = load_sale(sale_id)
    if sale is None or sale.state(timing.now()) != "live":  # validation said so already; a race with "end now"
        raise CheckoutProblems([Problem("flashsale_ended", _("The flash sale is over."))])
    items = sale_items(sale)
    lines = [(line, items[line.sku_id]) for line in order.lines if line.sku_id in items]
    if not lines:
        return
    store_id = current_store().id
    day = timing.store_day(timing.now())
    deadline = aware(order.pay_deadline)  # the sale's short window (validate asked for it), or the store's if sooner
    gated = g.get(GATE_KEY) or {}
    for number, (line, item) in enumerate(lines):
        reservation = gated.get(item.id)
        if reservation is not None and (
            reservation.quantity != line.quantity or reservation.customer_id != order.customer_id
        ):
            gated.pop(item.id).release()
            reservation = None
        if reservation is not None:
            reservation.taken = True  # the endpoint settles it after the commit
        else:
            reservation = _reserve_here(store_id, sale, item, order.customer_id, line.quantity, day, line.title)
            if reservation is not None:
                txn.after_rollback(reservation.release)
                txn.after_commit(lambda r=reservation: setattr(r, "settled", True))
        try:
            quota.take(
                sale,
                item,
                order_id=order.id,
                customer_id=order.customer_id,
                quantity=line.quantity,
                day=day,
                deadline=deadline,
                title=line.title,
                hold=number == 0,  # the shopper's one unpaid order in the sale, with the first line
            )
        except SoldOut:
            left = quota.remaining(item.id)
            if reservation is not None:
                reservation.release(truth=left)
            else:
                gate.set_remaining(store_id, sale.id, item.id, left)
            if left <= 0:
                flags.mark_sold_out(store_id, sale.id, item.sku_id, item.id)
            raise
        except CheckoutProblems:
            if reservation is not None:
                reservation.release()
            raise


def _reserve_here(store_id: int, sale: Sale, item, customer_id: int, quantity: int, day: str, title: str):
    """A checkout that did not come through the buy endpoint passes the gate here (with Redis)."""
    import uuid

    token = uuid.uuid4().hex
    outcome, _left, epoch = gate.reserve(
        store_id,
        sale.id,
        item.id,
        customer_id,
        quantity,
        limit=sale.per_shopper_limit,
        day_limit=sale.per_day_limit,
        day=day,
        token=token,
    )
    if outcome == "ok":
        return gate.Reservation(store_id, sale.id, item.id, customer_id, quantity, day, token, epoch)
    if outcome in ("sold_out", "not_enough"):
        if outcome == "sold_out":
            flags.mark_sold_out(store_id, sale.id, item.sku_id, item.id)
        raise SoldOut(item.sku_id, title)
    # limits and the unpaid order were checked in the database a moment ago (the truth): a
    # stale gate is not a reason to refuse; "ungated" and "unknown" leave it to the database too
    return None


def order_paid(order) -> None:
    units = quota.settle_paid(order.id)
    if units:
        store_id = current_store().id
        txn.after_commit(
            lambda: [gate.order_paid(store_id, u.sale_id, u.item_id, u.customer_id, u.quantity, u.day) for u in units]
        )


def order_cancelled(order, reason: str) -> None:
    units = quota.give_back(order.id)
    if units:
        store_id = current_store().id

        def after():
            for u in units:
                gate.units_returned(store_id, u.sale_id, u.item_id, u.customer_id, u.quantity, u.day)
                flags.clear_sold_out(store_id, u.sale_id)

        txn.after_commit(after)
