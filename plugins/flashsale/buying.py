"""One buy attempt, cheapest refusal first: the crowd is turned away before the database.

1. the SKU's sold-out flag (memory): "sold out", nothing else runs;
2. the attempt rate per IP address, counted in this process;
3. the sale's snapshot (memory, re-read every 2 s): unknown, not started, ended, per-order limit;
4. the shopper (their token: one query), then in **one** Redis script: the attempt rates of the
   shopper and of the IP address (shared by every process: attempts that get this far), the
   units left, their unpaid order and their units over the sale and the day, and the
   reservation (without Redis: the shopper's rate in memory, and the database decides);
5. only then the core's checkout (:func:`mallow.orders.checkout.place_order`) with the sale
   option: the pipeline prices the line, the core takes the SKU's stock, and this plugin's
   ``mallow_order_placed`` takes the sale's units in the database (the truth), all in one
   transaction. A reservation that did not become an order is given back.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass

from flask import current_app, g, has_request_context, request
from sqlalchemy.exc import OperationalError

from mallow.sdk import (
    CheckoutProblems,
    IdempotencyConflict,
    SoldOut,
    ValidationFailed,
    current_store,
    db,
    place_order,
    principal,
)
from mallow_flashsale import flags, gate, limits, quota, timing
from mallow_flashsale.checkout import GATE_KEY, SALES_KEY, settings
from mallow_flashsale.i18n import _
from mallow_flashsale.models import Sale, aware

LIMIT_CODES = {"flashsale_shopper_limit", "flashsale_day_limit", "flashsale_order_limit"}


@dataclass
class Answer:
    status: int
    body: dict
    order: object = None
    ticket: str | None = None  # 202: admitted, the order is made behind (the drain)


def _refuse(status: int, error: str, message: str, **extra) -> Answer:
    return Answer(status, {"error": error, "message": str(message), **extra})


def sold_out() -> Answer:
    """The answer the crowd gets once the quota is gone: its text is looked up once per
    language preference (working out the locale costs more than the rest of this answer)."""
    if not has_request_context():  # a queued ticket placed by the drain (in the ticket's locale)
        return Answer(409, {"error": "sold_out", "message": str(_("Sold out"))})
    key = (request.args.get("lang"), request.cookies.get("lang"), request.headers.get("Accept-Language"))
    texts = current_app.extensions.setdefault("mallow_flashsale.sold_out_texts", {})
    text = texts.get(key)
    if text is None:
        if len(texts) > 1000:
            texts.clear()
        text = texts[key] = str(_("Sold out"))
    return Answer(409, {"error": "sold_out", "message": text})


def load_snapshot(sale_id: int) -> flags.SaleSnapshot | None:
    sale = db.session.get(Sale, sale_id)
    if sale is None:
        return None
    return flags.SaleSnapshot(
        id=sale.id,
        title=sale.title,
        published=sale.published,
        preheat_at=aware(sale.preheat_at),
        starts_at=aware(sale.starts_at),
        ends_at=aware(sale.ends_at),
        per_order_limit=sale.per_order_limit,
        per_shopper_limit=sale.per_shopper_limit,
        per_day_limit=sale.per_day_limit,
        items={
            item.sku_id: flags.ItemSnapshot(item.id, item.sku_id, item.sale_price, item.quota) for item in sale.items
        },
    )


def snapshot(store_id: int, sale_id: int) -> flags.SaleSnapshot | None:
    return flags.snapshot(store_id, sale_id, lambda: load_snapshot(sale_id))


def whole_number(value, default=None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or isinstance(value, float):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def attempt(sale_id: int, data, *, idempotency_key: str | None = None, customer=None, queue: bool = False) -> Answer:
    """Try to buy; ``data`` has ``sku_id``, ``quantity`` (default 1), ``address_id``, ``note``.

    With ``queue`` (the sale page's buy button, and the API route for what the front door sent
    on) and admission on (:func:`admission.redis_on`), the attempt is admitted as the front door
    admits an API attempt (the same script, with the signed-in customer's id): 202 with
    ``ticket``, or the script's refusal; what the script cannot decide goes on to the
    synchronous path below."""
    store_id = current_store().id
    sku_id, quantity = whole_number(data.get("sku_id")), whole_number(data.get("quantity"), 1)
    if sku_id is None or quantity is None or not 1 <= quantity <= 999:
        return Answer(
            422, ValidationFailed({"sku_id": ("invalid", _("Choose a product option and a quantity."))}).as_json()
        )
    if flags.is_sold_out(store_id, sale_id, sku_id):
        return sold_out()
    config = settings()
    flags.remember_settings(store_id, config)  # the front door's admission reads them (no query)
    ip_rate, ip_key = (
        int(config.get("ip_attempts_per_minute") or 600),
        limits.rate_key(store_id, "ip", request.remote_addr or "-"),
    )
    if not limits.allow_here(ip_key, ip_rate):  # shared through Redis by the gate's script below
        return _refuse(429, "rate_limited", _("Too many attempts. Try again in a moment."))
    sale = snapshot(store_id, sale_id)
    now = timing.now()
    state = sale.state(now) if sale is not None else "missing"
    item = sale.items.get(sku_id) if sale is not None else None
    if state in ("missing", "draft", "hidden") or item is None:
        return _refuse(404, "not_found", _("This flash sale cannot be found."))
    if state == "preheat":
        return _refuse(
            409,
            "not_started",
            _("The flash sale has not started yet."),
            seconds_left=max(0, int((sale.starts_at - now).total_seconds())),
        )
    if state == "ended":
        return _refuse(409, "ended", _("The flash sale is over."))
    if sale.per_order_limit and quantity > sale.per_order_limit:
        return _refuse(
            409, "limit_reached", _("At most %(limit)s per order in this flash sale.", limit=sale.per_order_limit)
        )
    customer = customer or principal("shopper")
    if customer is None:
        return _refuse(401, "unauthenticated", _("Sign in to take part in the flash sale."))

    if queue:
        queued = _admit(store_id, sale, item, quantity, data, customer, idempotency_key, config, now)
        if queued is not None:
            return queued
    shopper_rate = int(config.get("shopper_attempts_per_minute") or 20)
    day, token = timing.store_day(now), uuid.uuid4().hex
    outcome, _left, epoch = gate.reserve(
        store_id,
        sale_id,
        item.id,
        customer.id,
        quantity,
        limit=sale.per_shopper_limit,
        day_limit=sale.per_day_limit,
        day=day,
        token=token,
        rate_key=limits.rate_key(store_id, "shopper", customer.id),
        rate_limit=shopper_rate,
        ip_key=ip_key,
        ip_limit=ip_rate,
    )
    if outcome == "ungated" and not limits.allow_here(limits.rate_key(store_id, "shopper", customer.id), shopper_rate):
        outcome = "rate_limited"
    refused = _gate_refusal(outcome, store_id, sale, item, idempotency_key)
    if refused is not None:
        return refused
    if outcome == "unknown":
        gate.drop(store_id, sale_id)  # seeded before this item was added: re-seed next time
    if outcome in ("ungated", "unknown"):  # no gate: a few reads turn most losers away before a write
        refused = _precheck(store_id, sale, item, customer.id, quantity, day, idempotency_key)
        if refused is not None:
            return refused
    reservation = (
        gate.Reservation(store_id, sale_id, item.id, customer.id, quantity, day, token, epoch)
        if outcome == "ok"
        else None
    )
    g.setdefault(SALES_KEY, {})[sale_id] = sale  # the checkout's hooks read the snapshot: no query
    try:
        return _place(sale_id, item.id, sku_id, quantity, data, customer, idempotency_key, reservation)
    finally:
        for held in (g.pop(GATE_KEY, None) or {}).values():
            if not held.settled:
                held.release()
        if reservation is not None and not reservation.settled:
            reservation.release()


def _gate_refusal(outcome: str, store_id: int, sale, item, idempotency_key: str | None) -> Answer | None:
    """The refusal the gate's script decided (reserve or admit: the same codes), or None."""
    if outcome == "rate_limited":
        return _refuse(429, "rate_limited", _("Too many attempts. Try again in a moment."))
    if outcome == "sold_out":
        flags.mark_sold_out(store_id, sale.id, item.sku_id, item.id)
        return sold_out()
    if outcome == "not_enough":
        return _refuse(409, "not_enough", _("Not that many left."))
    if outcome == "limit":
        return _refuse(
            409, "limit_reached", _("You can buy at most %(limit)s in this flash sale.", limit=sale.per_shopper_limit)
        )
    if outcome == "day_limit":
        return _refuse(
            409, "limit_reached", _("You can buy at most %(limit)s a day in this flash sale.", limit=sale.per_day_limit)
        )
    if outcome == "pending" and not idempotency_key:
        return _refuse(409, "pending_order", _("You have an unpaid order in this flash sale: pay or cancel it first."))
    return None


def _admit(store_id, sale, item, quantity, data, customer, idempotency_key, config, now) -> Answer | None:
    """The sale page's attempt through the front door's admission (one script, the customer's id
    instead of a token): 202 with the ticket, or the script's refusal; None when admission is
    off or cannot decide (Redis away, an unseeded sale it could not seed, an item not in the
    seeded sale, the attempt's key sent while an order is unpaid): the synchronous path."""
    from mallow_flashsale import admission

    app = current_app._get_current_object()
    conn, _mirror = admission.redis_on(app)
    if conn is None:
        return None
    address_id, note = whole_number(data.get("address_id")), data.get("note") or ""
    if address_id is None or address_id <= 0 or not isinstance(note, str) or len(note) > 200:
        return None
    idem = (idempotency_key or "").strip()
    if len(idem) > 80:
        return None
    from flask_babel import get_locale

    locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
    for attempt_number in range(2):
        outcome, ticket = admission.admit(
            app,
            conn,
            store_id=store_id,
            sale=sale,
            config=config,
            item=item,
            quantity=quantity,
            address_id=address_id,
            note=note,
            idem=idem,
            locale=locale,
            remote_addr=request.remote_addr,
            now=now,
            customer_id=customer.id,
        )
        if outcome != "unseeded":
            break
        if attempt_number == 1 or not gate.seed(store_id, sale.id, wait=True):  # nothing is counted before
            return None
    if outcome in ("ok", "again"):
        return Answer(202, {"ticket": ticket, "status": "queued", "sale_id": sale.id}, ticket=ticket)
    if outcome == "unknown":
        gate.drop(store_id, sale.id)  # seeded before this item was added: the synchronous path re-seeds
        return None
    return _gate_refusal(outcome, store_id, sale, item, idem or None)


def place_admitted(sale_id: int, ticket: dict, customer) -> Answer:
    """Place the order of a ticket the front door admitted (:mod:`mallow_flashsale.admission`):
    its units are reserved in the gate already (the ticket id is the reservation's token). The idempotency key is the
    ticket's own, so a drain that died after the commit and runs the ticket again gets the same
    order back (and the reservation stays with it); any other end gives the units back."""
    store_id = current_store().id
    item_id, sku_id, quantity = int(ticket["item"]), int(ticket["sku"]), int(ticket["q"])
    reservation = gate.Reservation(
        store_id,
        sale_id,
        item_id,
        customer.id,
        quantity,
        ticket["day"],
        ticket.get("tok") or ticket["id"],
        ticket.get("ep"),
    )
    sale = snapshot(store_id, sale_id)
    if sale is not None:
        g.setdefault(SALES_KEY, {})[sale_id] = sale
    data = {"address_id": ticket.get("addr"), "note": ticket.get("note") or ""}
    try:
        answer = _place(sale_id, item_id, sku_id, quantity, data, customer, f"fs-ticket-{ticket['id']}", reservation)
        if answer.status == 200:  # placed by an earlier run of this ticket: the order holds the units
            reservation.settled = True
        return answer
    finally:
        for held in (g.pop(GATE_KEY, None) or {}).values():
            if not held.settled:
                held.release()
        if not reservation.settled:
            reservation.release()
        g.pop(SALES_KEY, None)


def _precheck(store_id, sale, item, customer_id, quantity, day, idempotency_key) -> Answer | None:
    """What the gate would have said, read from the database (cheap reads, no lock taken): the
    checkout checks all of it again in its transaction."""
    left = quota.remaining(item.id)
    if left <= 0:
        flags.mark_sold_out(store_id, sale.id, item.sku_id, item.id)
        return sold_out()
    if left < quantity:
        return _refuse(409, "not_enough", _("Not that many left."))
    if not idempotency_key and quota.has_pending(sale.id, customer_id):
        return _refuse(409, "pending_order", _("You have an unpaid order in this flash sale: pay or cancel it first."))
    if not idempotency_key:
        problem = quota.limit_problem(sale, customer_id, quantity, day)
        if problem is not None:
            return _refuse(409, "limit_reached", problem.message)
    return None


def _writer_lock():
    """SQLite has one writer at a time; a transaction that read first and then finds another
    writer gets "database is locked" at once instead of waiting. Writers of this process queue
    here instead (no throughput is lost: they would take turns anyway); other processes are
    covered by the retry below. PostgreSQL needs no lock: rows are locked one by one."""
    if db.engine.dialect.name != "sqlite":
        return nullcontext()
    db.session.commit()  # end the read transaction: its snapshot would be stale once the lock is ours
    lock = current_app.extensions.get("mallow_flashsale.sqlite_writer")
    if lock is None:
        lock = current_app.extensions.setdefault("mallow_flashsale.sqlite_writer", threading.Lock())
    return lock


def _place(sale_id, item_id, sku_id, quantity, data, customer, idempotency_key, reservation) -> Answer:
    store_id = current_store().id
    items = [{"sku_id": sku_id, "quantity": quantity}]
    for attempt_number in range(5):
        if reservation is not None and not reservation.settled:
            g.setdefault(GATE_KEY, {})[reservation.item_id] = reservation
        try:
            with _writer_lock():
                order, created = place_order(
                    customer,
                    items,
                    data.get("address_id"),
                    data.get("note") or "",
                    idempotency_key,
                    options={"flashsale": {"sale_id": sale_id}},
                )
        except SoldOut:  # the sale's quota (the hook flagged it) or the SKU's own stock
            return sold_out()
        except CheckoutProblems as problems:
            codes = {p.code for p in problems.problems}
            body = {
                "problems": [
                    {"code": p.code, "message": str(p.message), "line": p.line_index} for p in problems.problems
                ]
            }
            first = str(problems.problems[0].message)
            if "flashsale_sold_out" in codes:  # the database says none are left: so will the gate
                flags.mark_sold_out(store_id, sale_id, sku_id, item_id)
                if reservation is not None and not reservation.settled:
                    reservation.release(truth=0)
                else:
                    gate.set_remaining(store_id, sale_id, item_id, 0)
                return _refuse(409, "sold_out", _("Sold out"), **body)
            if "flashsale_not_enough" in codes:
                return _refuse(409, "not_enough", first, **body)
            if "flashsale_pending_order" in codes:
                return _refuse(409, "pending_order", first, **body)
            if codes & LIMIT_CODES:
                return _refuse(409, "limit_reached", first, **body)
            if codes & {"flashsale_not_started", "flashsale_ended", "flashsale_not_found", "flashsale_changed"}:
                flags.forget_sale(store_id, sale_id)
                return _refuse(409, "unavailable", first, **body)
            return _refuse(422, "checkout_problems", _("The order cannot be placed."), **body)
        except ValidationFailed as failed:
            return Answer(422, failed.as_json())
        except IdempotencyConflict:
            return _refuse(422, "idempotency_conflict", _("This Idempotency-Key was used for a different order."))
        except OperationalError as error:  # SQLite: another process's writer got there first
            db.session.rollback()
            if "locked" not in str(error).lower() or attempt_number == 4:
                raise
            time.sleep(0.01 * (attempt_number + 1))
            if reservation is not None:  # given back: the hook passes the gate again
                reservation.release()
            reservation = None
            g.pop(GATE_KEY, None)
            continue
        for held in (g.pop(GATE_KEY, None) or {}).values():  # committed: the order holds them now
            if created and held.taken:
                held.settled = True
        return Answer(201 if created else 200, {"order": order_summary(order), "sale_id": sale_id}, order)
    raise RuntimeError("unreachable")


def order_summary(order) -> dict:
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "total": order.total,
        "pay_deadline": aware(order.pay_deadline).isoformat(),
    }
