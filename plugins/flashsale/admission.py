"""Admission at the front door (排队中): a buy attempt is admitted before Flask, its order made behind.

With Redis (the gate's, ``FLASHSALE_REDIS_URL``, being the one the core mirrors shopper tokens in:
``mallow.sdk.shopper_session_mirror``), the early buy route (:mod:`mallow_flashsale.early_answers`)
answers an attempt of a live sale this process knows (its snapshot and the store's settings read
within ``FLASHSALE_SNAPSHOT_SECONDS``) without the database:

1. the body as the route reads it (a SKU of the sale, a quantity within the per-order limit, a
   whole-number ``address_id``), the shopper's ``Authorization: Bearer shp_…``, the attempt
   rate per IP address counted in this process (as the route does);
2. **one** Lua script (:data:`mallow_flashsale.gate.ADMIT`): the token's mirrored session, the
   shopper's and the address's rates, the units left, their unpaid order and their units over
   the sale and the day (the gate's checks, same order, same refusals), the reservation, and a
   ticket pushed onto the store's queue;
3. ``202 {"ticket", "status": "queued", "poll_url"}``; when the script raised the store's drain
   flag (no drain was running) one ``flashsale.drain`` job is queued, never one per ticket.

Anything it cannot decide goes on to the route (a token not mirrored — the route's lookup
writes it back —, an unseeded sale, a sale not in memory, an ``Idempotency-Key`` with an unpaid
order, no Redis). The route admits it the same way where it can (the customer's id from its own
lookup, the gate seeded on the spot), so an attempt is answered 202 whichever process meets it
first; only what the script cannot decide there either is placed synchronously (201).

The drain (:func:`drain`, a store job) takes tickets in batches into a processing set (scored
with the time taken), places each through ``place_order`` as its shopper with the sale option and
the ticket's own idempotency key (each order its own transaction, committed without waiting for
the disk), flushes the batch's commits to disk once, then records every outcome in
``<prefix>:ticket:<store>:<id>`` while taking the tickets out of the processing set (one round trip:
:data:`~mallow_flashsale.gate.SETTLE` per ticket, pipelined).
A drain that dies leaves its tickets in the set: the sweep puts those older than
:data:`STALE_SECONDS` back on the queue, and the ticket's idempotency key gives back the order a
dead drain committed instead of a second one (the database's conditional UPDATE stays the truth).

Polling (``GET …/api/x/flashsale/tickets/<ticket>``, early too) reads the ticket's hash with the
token's session in one script: only the ticket's own shopper sees it.

**The browser** (the sale page's buy button, :func:`mallow_flashsale.storefront.buy_form`) uses the
same :func:`admit` (the same script) when :func:`redis_on` says admission is on: Flask has checked
the cookie session and the CSRF token, so the script is given the customer's id instead of a
token's session key. The answer is a waiting page that polls ``…/x/flashsale/tickets/<ticket>/state``
(cookie session, one Redis read) and goes to the order's cashier once the drain made it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, UTC
from json.encoder import encode_basestring as _json_string
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context, has_request_context
from flask_babel import force_locale

from mallow.sdk import (
    EarlyAnswer,
    EarlyRequest,
    current_store,
    db,
    enqueue_job,
    flush_commits,
    relax_next_commit,
    shopper_session_mirror,
)
from mallow_flashsale import flags, gate, limits
from mallow_flashsale.i18n import _

log = logging.getLogger("mallow_flashsale")

TICKET_RULE = "/api/x/flashsale/tickets/<ticket>"
#: how long a ticket's outcome can be read
TICKET_SECONDS = gate.TICKET_SECONDS
#: the drain flag's life: a drain refreshes it while it works; a dead one's flag lapses
FLAG_SECONDS = gate.FLAG_SECONDS
#: a ticket taken longer ago than this and not settled was taken by a drain that died
STALE_SECONDS = 60
#: tickets one drain takes at a time, and how long one job drains before handing over to the next
BATCH = 50
DRAIN_SECONDS = 60.0
#: admission first: while tickets arrive faster than this (a second), the drain holds back for at
#: most ``FLASHSALE_DRAIN_YIELD_SECONDS`` a job (default below; 0: never), looking again every
#: ``YIELD_STEP`` seconds (see :func:`hold_back_while_crowded`)
CROWD_ARRIVALS = 500
YIELD_SECONDS = 10.0
YIELD_STEP = 0.1

# the refusals the script decides, with the route's codes and texts (looked up once per locale)
TEXTS = {
    "sold_out": lambda **_k: _("Sold out"),
    "rate_limited": lambda **_k: _("Too many attempts. Try again in a moment."),
    "not_enough": lambda **_k: _("Not that many left."),
    "limit": lambda limit: _("You can buy at most %(limit)s in this flash sale.", limit=limit),
    "day_limit": lambda limit: _("You can buy at most %(limit)s a day in this flash sale.", limit=limit),
    "pending": lambda **_k: _("You have an unpaid order in this flash sale: pay or cancel it first."),
    "not_found": lambda **_k: _("This queue ticket cannot be found."),
    "failed": lambda **_k: _("The order cannot be placed."),
    "unauthenticated": lambda **_k: _("Sign in to take part in the flash sale."),
}


@dataclass(frozen=True)
class Shopper:
    """The ticket's shopper as ``place_order`` needs them (it reads the id)."""

    id: int
    kind: str = "shopper"


class Door:
    """One app's admission: what it keeps between requests (texts per locale)."""

    def __init__(self, app):
        self.app = app
        self.texts: dict[tuple, str] = {}

    def text(self, locale: str, name: str, **params) -> str:
        key = (locale, name, *sorted(params.items()))
        found = self.texts.get(key)
        if found is None:
            if len(self.texts) > 4096:
                self.texts.clear()
            with self.app.app_context(), force_locale(locale):
                found = self.texts[key] = str(TEXTS[name](**params))
        return found

    def refuse(self, request: EarlyRequest, status: int, error: str, name: str, **params) -> EarlyAnswer:
        return EarlyAnswer(status, {"error": error, "message": self.text(request.locale, name, **params)})

    def redis(self):
        """The gate's connection when door admission is on: the session mirror and the gate
        share one Redis (else None: the route decides)."""
        return redis_on(self.app)

    # --- the buy attempt --------------------------------------------------------------------------

    def buy(self, request: EarlyRequest, data: dict, sku_id: int, quantity: int, memory) -> EarlyAnswer | None:
        conn, mirror = self.redis()
        if conn is None:
            return None
        secret = _bearer(request)
        session_key = mirror.key(secret)
        if session_key is None:
            return None
        store_id, sale_id = request.store_id, request.args["sale_id"]
        found = flags.fresh(memory, store_id, sale_id)
        if found is None:
            return None
        sale, config = found
        now = datetime.now(UTC)
        item = sale.items.get(sku_id)
        if sale.state(now) != "live" or item is None or (sale.per_order_limit and quantity > sale.per_order_limit):
            return None
        address_id, note = data.get("address_id"), data.get("note") or ""
        if type(address_id) is not int or address_id <= 0 or not isinstance(note, str) or len(note) > 200:
            return None
        idem = (request.environ.get("HTTP_IDEMPOTENCY_KEY") or "").strip()
        if len(idem) > 80:
            return None
        app = self.app
        ip_rate = int(config.get("ip_attempts_per_minute") or 600)
        window = int(_clock() // gate.RATE_WINDOW)
        ip_key = f"{gate.prefix_of(app)}:rl:{int(store_id)}:ip:{request.remote_addr or '-'}:{window}"
        if not _allow_here(app, ip_key, ip_rate):
            return self.refuse(request, 429, "rate_limited", "rate_limited")
        outcome, ticket_id = admit(
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
            locale=request.locale,
            remote_addr=request.remote_addr,
            now=now,
            session_key=session_key,
        )
        if outcome in ("ok", "again"):
            return EarlyAnswer(
                202, {"ticket": ticket_id, "status": "queued", "poll_url": _poll_url(request, ticket_id)}
            )
        if outcome == "no_session":
            mirror.ask_again(request.environ)  # the route's lookup writes a valid token back
            return None
        if outcome == "rate_limited":
            return self.refuse(request, 429, "rate_limited", "rate_limited")
        if outcome == "sold_out":
            memory.mark_sold_out((store_id, sale_id, sku_id), item.id)
            return self.refuse(request, 409, "sold_out", "sold_out")
        if outcome == "not_enough":
            return self.refuse(request, 409, "not_enough", "not_enough")
        if outcome == "limit":
            return self.refuse(request, 409, "limit_reached", "limit", limit=sale.per_shopper_limit)
        if outcome == "day_limit":
            return self.refuse(request, 409, "limit_reached", "day_limit", limit=sale.per_day_limit)
        if outcome == "pending":
            return self.refuse(request, 409, "pending_order", "pending")
        return None  # unseeded, unknown, an Idempotency-Key with an unpaid order: the route decides

    # --- polling ----------------------------------------------------------------------------------

    def poll(self, request: EarlyRequest) -> EarlyAnswer | None:
        conn, mirror = self.redis()
        if conn is None:
            return None
        session_key = mirror.key(_bearer(request))
        if session_key is None:
            return None
        ticket = request.args["ticket"]
        try:
            who, fields = _read_ticket(
                conn, session_key, gate.ticket_key(request.store_id, ticket, gate.prefix_of(self.app))
            )
        except Exception as error:  # noqa: BLE001
            log.warning("flash sale tickets unavailable: %s", error)
            return None
        if who is None or not who.startswith(f"{request.store_id}:"):
            mirror.ask_again(request.environ)
            return None
        status, body = answer_of(ticket, who, fields, _pay_base(request))
        if status == 404:
            return self.refuse(request, 404, "not_found", "not_found")
        return EarlyAnswer(status, body)


def redis_on(app):
    """``(gate connection, session mirror)`` when admission is on for ``app`` (the mirror and the
    gate share one Redis), else ``(None, None)``: the door and the sale page's buy button ask
    the same question."""
    mirror = shopper_session_mirror(app)
    if mirror is None or gate.url_of(app) != mirror.url:
        return None, None
    return gate.connection_of(app), mirror


def admit(
    app,
    conn,
    *,
    store_id: int,
    sale,
    config: dict,
    item,
    quantity: int,
    address_id: int,
    note: str,
    idem: str,
    locale: str,
    remote_addr: str | None,
    now: datetime,
    session_key: str | None = None,
    customer_id: int | None = None,
) -> tuple[str, str | None]:
    """One buy attempt through :data:`gate.ADMIT` (one round trip): ``(outcome, ticket id)``.

    The shopper is either a token's mirrored session (``session_key``: the front door) or a
    customer the caller knows already (``customer_id``: the sale page's buy button, whose
    cookie session and CSRF token Flask checked). Outcomes are :data:`gate.ADMIT_OUTCOMES`'
    values (``ok`` and ``again`` carry the ticket; ``ok`` queues one drain job when the script
    raised the store's drain flag), or ``error`` when Redis failed: the caller's synchronous
    path decides. The attempt rate per address counted in this process is the caller's."""
    head = gate.prefix_of(app)
    window = int(_clock() // gate.RATE_WINDOW)
    ticket_id = os.urandom(16).hex()  # also the reservation's token
    day = _day(app, now)
    # the queued ticket; the script appends the customer ("c") and the item's "_v" ("ep")
    ticket = _ticket_json(ticket_id, sale.id, item.id, item.sku_id, quantity, address_id, note, idem, day, locale)
    queue, _taken, flag = gate.queue_keys(store_id, head)
    # a known customer: KEYS[5] is not read (the queue's key stands in for it)
    keys = [*gate.keys(store_id, sale.id, day, head), session_key or queue, queue, flag]
    args = [
        item.id,
        quantity,
        store_id,
        sale.per_shopper_limit,
        sale.per_day_limit,
        int(config.get("shopper_attempts_per_minute") or 20),
        remote_addr or "-",
        int(config.get("ip_attempts_per_minute") or 600),
        window,
        ticket_id,
        ticket,
        idem,
        head,
        "" if customer_id is None else int(customer_id),
        sale.id,
        item.sku_id,
    ]
    try:
        code, said = conn.run_admit(keys, args)  # gate.ADMIT's answer: {code, what goes with it}
    except Exception as error:  # noqa: BLE001 -- Redis away: the caller's synchronous path decides
        log.warning("flash sale admission unavailable: %s", error)
        return "error", None
    outcome = gate.ADMIT_OUTCOMES.get(int(code), "ungated")
    if outcome == "again":
        ticket_id = said.decode() if isinstance(said, bytes) else str(said)
    elif outcome == "ok" and said:  # the queue had no drain: one job for the whole crowd
        if has_app_context():
            enqueue_job("flashsale.drain", store_id=store_id)
        else:
            with app.app_context():
                enqueue_job("flashsale.drain", store_id=store_id)
    return outcome, (ticket_id if outcome in ("ok", "again") else None)


#: the queued ticket as ``json.dumps(…, ensure_ascii=False, separators=(",", ":"))`` writes the
#: dict of its fields, without the closing brace (the script appends the customer and "_v")
_TICKET = '{{"id":"{}","sale":{:d},"item":{:d},"sku":{:d},"q":{:d},"addr":{:d},"note":{},"key":{},"day":"{}","loc":{},"at":{!r}'


def _ticket_json(ticket_id, sale_id, item_id, sku_id, quantity, address_id, note, idem, day, locale) -> str:
    """The ticket's JSON (see :data:`_TICKET`), written with a format instead of an encoder made
    per attempt (``json.dumps`` with arguments makes one): the strings through the encoder's own
    escaping, the numbers as it writes them (``int`` whole numbers, the time's ``float.__repr__``);
    ``tests/flashsale/test_admission_door_cost.py`` compares it with ``json.dumps``."""
    return _TICKET.format(
        ticket_id,
        sale_id,
        item_id,
        sku_id,
        quantity,
        address_id,
        _json_string(note),
        _json_string(idem),
        day,
        _json_string(locale),
        time.time(),
    )


def read_ticket(app, store_id: int, ticket: str) -> dict:
    """A ticket's fields (one round trip; ``{}`` when there is none, or Redis failed)."""
    conn = gate.connection_of(app)
    if conn is None:
        return {}
    try:
        found = conn.redis.hgetall(gate.ticket_key(store_id, ticket, gate.prefix_of(app))) or {}
    except Exception as error:  # noqa: BLE001
        log.warning("flash sale tickets unavailable: %s", error)
        return {}
    return {k.decode(): v.decode() for k, v in found.items()}


def _read_ticket(conn, session_key: str, ticket_key: str) -> tuple[str | None, dict]:
    """The token's session value and the ticket's fields, in one round trip."""
    with conn.redis.pipeline(transaction=False) as pipe:
        pipe.get(session_key)
        pipe.hgetall(ticket_key)
        who, fields = pipe.execute()
    return (who.decode() if who else None), {k.decode(): v.decode() for k, v in (fields or {}).items()}


def answer_of(ticket: str, who: str, fields: dict, pay_base: str) -> tuple[int, dict]:
    """The poll's answer for the shopper ``who`` (``"<store>:<customer>"``)."""
    if not fields or f"{fields.get('store')}:{fields.get('customer')}" != who:
        return 404, {}
    status = fields.get("status", "queued")
    body = {"ticket": ticket, "status": status}
    if status == "ordered":
        body.update(json.loads(fields.get("body") or "{}"))
        body["pay_url"] = f"{pay_base}/orders/{int(fields['order_id'])}/pay"
    elif status == "failed":
        body.update(json.loads(fields.get("body") or "{}"))
    return 200, body


def _bearer(request: EarlyRequest) -> str | None:
    scheme, _sep, value = (request.environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _pay_base(request: EarlyRequest) -> str:
    """Where the store's pages are for this request: ``/s/<slug>`` or its own domain's root."""
    path = request.environ.get("PATH_INFO") or ""
    return f"/s/{request.store_slug}" if path.startswith("/s/") else ""


def _poll_url(request: EarlyRequest, ticket: str) -> str:
    return f"{_pay_base(request)}/api/x/flashsale/tickets/{ticket}"


def _clock() -> float:
    return limits.clock()


def _allow_here(app, key: str, limit: int) -> bool:
    return limits.allow_in(app, key, limit)  # no app context: the door has none


#: (app, zone, second) -> the store's day then ("%Y-%m-%d"), the last one worked out
_DAYS: dict = {}


def _day(app, now: datetime) -> str:
    """The day in the store's zone (``timing.store_day``), worked out once a second."""
    zone = app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai"
    second = int(now.timestamp())
    found = _DAYS.get(zone)
    if found is None or found[0] != second:
        found = _DAYS[zone] = (second, now.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d"))
    return found[1]


# --- behind the door ------------------------------------------------------------------------------


def drain(store, batch: int = BATCH, seconds: float = DRAIN_SECONDS) -> int:
    """Make the store's queued tickets into orders until the queue is empty (a store job,
    ``flashsale.drain``); hands over to a new job after ``seconds``. Returns tickets settled."""
    conn = gate.connection()
    if conn is None:
        return 0
    queue, taken, flag = gate.queue_keys(store.id)
    started, settled = time.monotonic(), 0
    may_yield = float(current_app.config.get("FLASHSALE_DRAIN_YIELD_SECONDS", YIELD_SECONDS))
    waiting = None  # the queue's length when last looked at (after a full batch)
    while True:
        raw_tickets = conn.take(keys=[queue, taken], args=[batch, time.time()])
        if not raw_tickets:
            conn.redis.delete(flag)
            # a ticket pushed after the take found the flag still up: take the flag back for it
            if not conn.redis.llen(queue) or not conn.redis.set(flag, 1, nx=True, ex=FLAG_SECONDS):
                return settled
            continue
        conn.redis.expire(flag, FLAG_SECONDS)
        batch_started = time.monotonic()
        settled += settle_batch(conn, store, raw_tickets, taken)
        if may_yield > 0 and len(raw_tickets) == batch:  # more were waiting: is a crowd arriving?
            left = None if waiting is None else max(waiting - batch, 0)
            held, waiting = hold_back_while_crowded(conn, queue, flag, left, batch_started, may_yield)
            may_yield -= held
        if time.monotonic() - started > seconds:
            enqueue_job("flashsale.drain", store_id=store.id)  # the flag stays up: the next job goes on
            return settled


def hold_back_while_crowded(
    conn, queue: str, flag: str, left: int | None, since: float, at_most: float
) -> tuple[float, int]:
    """Admission first: while the crowd's tickets arrive faster than :data:`CROWD_ARRIVALS` a
    second (the queue grew that fast since ``left`` tickets were waiting at ``since``; None: not
    known, then it looks twice, a step apart), sleep in steps of :data:`YIELD_STEP` until it slows
    down, for at most ``at_most`` seconds. Answers the seconds held back and the queue's length
    last seen. The drain asks after a full batch only (a batch that emptied the queue keeps up with
    the arrivals): one ``LLEN`` a batch of :data:`BATCH` orders while the queue is long, none else.

    A drain beside the web servers makes orders in PostgreSQL, whose backend no ``nice`` reaches:
    during the seconds a sale sells out, its orders are made after the rush instead of between
    the crowd's attempts, and every shopper's 202 comes sooner (their tickets say 排队中 a few
    seconds longer; nothing is sold twice or lost: the tickets stay queued). A drain on a worker
    node of its own holds back too, at most ``FLASHSALE_DRAIN_YIELD_SECONDS`` a job (0: never)."""
    held = 0.0
    now, waiting = time.monotonic(), conn.redis.llen(queue)
    # nothing to judge a backlog by (``left`` None): look again a step later
    while held < at_most and (left is None or waiting - left > CROWD_ARRIVALS * max(now - since, YIELD_STEP)):
        step = min(YIELD_STEP, at_most - held)
        time.sleep(step)
        held += step
        conn.redis.expire(flag, FLAG_SECONDS)
        left, since = waiting, now
        now, waiting = time.monotonic(), conn.redis.llen(queue)
    return held, waiting


def settle_batch(conn, store, raw_tickets: list, taken: str) -> int:
    """Place a batch of tickets (:func:`place_ticket`: each its own transaction, committed without
    waiting for the disk), make the batch's orders durable with **one** flush
    (:func:`mallow.sdk.flash_batch.flush_commits`), then write every outcome and take the
    tickets out of the processing set in one round trip. A ticket that fails (its address gone,
    the database refusing) is a failed outcome and the others go on. A drain that dies before
    the outcomes are written leaves the whole batch in the processing set: placed again later
    under each ticket's idempotency key, a committed order comes back instead of a second one."""
    outcomes = [place_ticket(store, raw) for raw in raw_tickets]
    flush_commits()
    with conn.redis.pipeline(transaction=False) as pipe:
        for raw, (ticket_id, fields) in zip(raw_tickets, outcomes, strict=True):
            conn.settle(
                keys=[gate.ticket_key(store.id, ticket_id), taken], args=[TICKET_SECONDS, raw, *fields], client=pipe
            )
        pipe.execute()
    return len(outcomes)


def place_ticket(store, raw: bytes | str) -> tuple[str, list]:
    """Place one ticket's order (given the units back when no order was made): ``(ticket id, the
    outcome's fields for its hash)``. Its transaction commits without waiting for the disk
    (:func:`~mallow.sdk.flash_batch.relax_next_commit`): the batch is flushed once, before any
    outcome is told."""
    from mallow_flashsale import buying

    ticket = json.loads(raw)
    with force_locale(ticket.get("loc") or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            relax_next_commit()
            answer = buying.place_admitted(int(ticket["sale"]), ticket, Shopper(int(ticket["c"])))
        except Exception:  # noqa: BLE001 -- one ticket's failure must not stop the queue
            log.exception("flash sale: ticket %s of store %s failed", ticket.get("id"), store.id)
            db.session.rollback()
            answer = buying.Answer(500, {"error": "failed", "message": str(TEXTS["failed"]())})
        if answer.status in (200, 201):
            order = answer.body["order"]
            fields = ["status", "ordered", "order_id", order["id"], "body", json.dumps(answer.body)]
        else:
            fields = ["status", "failed", "code", answer.status, "body", json.dumps(answer.body)]
    return str(ticket["id"]), fields


def settle_ticket(conn, store, raw: bytes | str, taken: str) -> None:
    """One ticket placed and settled on its own (:func:`settle_batch` of one)."""
    settle_batch(conn, store, [raw], taken)


def requeue_stale(store_id: int, now: float | None = None) -> int:
    """Tickets a dead drain took and never settled go back to the queue, and a drain is queued
    for them (the sweep calls this). Returns how many."""
    conn = gate.connection()
    if conn is None:
        return 0
    queue, taken, flag = gate.queue_keys(store_id)
    try:
        moved = int(conn.requeue(keys=[queue, taken], args=[(now or time.time()) - STALE_SECONDS]))
        waiting = conn.redis.llen(queue)
        if waiting and conn.redis.set(flag, 1, nx=True, ex=FLAG_SECONDS):
            enqueue_job("flashsale.drain", store_id=store_id)
    except Exception as error:  # noqa: BLE001
        log.warning("flash sale: could not look at the ticket queue: %s", error)
        return 0
    return moved


def flask_poll(ticket: str, customer) -> tuple[int, dict]:
    """The poll as the normal route answers it (the shopper looked up in the database)."""
    conn = gate.connection()
    store = current_store()
    if conn is None or customer is None or not has_request_context():
        return 404, {}
    from flask import request

    try:
        found = conn.redis.hgetall(gate.ticket_key(store.id, ticket)) or {}
    except Exception as error:  # noqa: BLE001 -- Redis away: the ticket's state is not known now
        log.warning("flash sale tickets unavailable: %s", error)
        return 503, {"error": "unavailable", "message": str(_("The queue cannot be read right now. Try again soon."))}
    fields = {k.decode(): v.decode() for k, v in found.items()}
    base = f"/s/{store.slug}" if request.path.startswith("/s/") else ""
    return answer_of(ticket, f"{store.id}:{customer.id}", fields, base)
