"""Shopper-facing routes: the sale pages (``/s/<slug>/x/flashsale/``) and the store API
(``/s/<slug>/api/x/flashsale/``) with the buy endpoint.

Pages are rendered on the server, countdown included (the seconds left are in the HTML); the
small ``static/countdown.js`` only ticks it down and reloads the page when the sale opens or
ends (progressive enhancement: without it the page is complete and correct when loaded).

With admission on (Redis), the buy button's attempt is admitted like an API one and the shopper
waits on the queue's page (排队中), polled by ``static/queue.js`` or, without script, reloaded by
a ``<noscript>`` refresh; the ticket page sends them to the order's cashier.
"""

from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, render_template, request, url_for

from mallow.sdk import (
    ID,
    address_book,
    api_route,
    cacheable,
    cashier_url,
    current_store,
    db,
    nullable,
    obj,
    principal,
    returns,
    shape,
    string,
)
from mallow_flashsale import admission, buying, sales, timing
from mallow_flashsale.i18n import _, translations
from mallow_flashsale.models import PendingOrder, aware


def countdown_text(seconds: int) -> str:
    """``2天 03:04:05`` / ``03:04:05``: the same format the script keeps ticking."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{_('%(days)s d', days=days)} {clock}" if days else clock


def _only_open_stores():
    store = current_store()
    if store is None or not store.is_open:
        abort(404)


#: while a sale is live, its pages are kept for anonymous visitors this long at most: units sold
#: move no stamp, and the page shows how many are gone
LIVE_PAGE_SECONDS = 5.0


def _sale_view(sale, now, products: dict | None = None) -> dict:
    data = sales.as_json(sale, now, products=products)
    data["countdown"] = countdown_text(data["seconds_left"])
    # the clock ticks to this moment (epoch seconds), so a page kept a few seconds stays right
    data["deadline"] = int(now.timestamp()) + data["seconds_left"]
    data["starts_text"] = timing.local_text(aware(sale.starts_at))
    data["ends_text"] = timing.local_text(aware(sale.ends_at))
    return data


def _visible_sale_or_404(sale_id: int):
    sale = sales.get(sale_id, with_items=True)
    if sale is None or sale.state(timing.now()) in ("draft", "hidden"):
        abort(404)
    return sale


# --- pages ------------------------------------------------------------------------------------


def index():
    now = timing.now()
    shown = sales.visible_sales(now)
    sales.true_for(shown, now, LIVE_PAGE_SECONDS)  # the front door keeps the page no longer
    return render_template(
        "flashsale/index.html",
        sales=[_sale_view(s, now) for s in shown],
        days_format=_("%(days)s d"),
    )


def sale_page(sale_id: int, error: str | None = None, status: int = 200, unpaid_url: str | None = None):
    from mallow_flashsale import present

    sale = _visible_sale_or_404(sale_id)
    now = timing.now()
    sales.true_for([sale], now, LIVE_PAGE_SECONDS)
    customer = principal("shopper")
    shopper_addresses = address_book(customer.id) if customer else []
    products = sales.products_of(sale.items)
    view = _sale_view(sale, now, products)
    present.decorate_items(sale, view["items"], {sku_id: sku for sku_id, (_p, sku) in products.items()})
    chosen = request.form.get("sku_id", "") if request.method == "POST" else ""
    return render_template(
        "flashsale/sale.html",
        sale=view,
        customer=customer,
        addresses=shopper_addresses,
        error=error,
        unpaid_url=unpaid_url,
        days_format=_("%(days)s d"),
        attempt=uuid.uuid4().hex,
        chosen=chosen,
        **present.first_steps(url_for(".sale", sale_id=sale.id)),
    ), status


def _page_context() -> dict:
    from mallow_flashsale import present

    return {
        "fs_theme": present.page_theme,
        "fs_asset": lambda name: url_for(".static", filename=name, v=present.asset_version(name)),
    }


def buy_form(sale_id: int):
    """The page's buy button (a form with its CSRF token, the signed-in shopper's cookie).

    With admission on (Redis: :func:`admission.redis_on`) the attempt is admitted as the front
    door admits an API one and the answer is the waiting page (排队中, 202) of its ticket; else,
    or when admission cannot decide, the order is placed here and now. A sale that cannot be
    bought (missing, hidden, over) is refused by ``attempt`` and shown by ``sale_page`` (404)."""
    answer = buying.attempt(sale_id, request.form, idempotency_key=request.form.get("attempt") or None, queue=True)
    if answer.status == 202:
        item = _ticket_item(sale_id, request.form.get("sku_id"))
        if item is not None:
            item = {**item, "quantity": buying.whole_number(request.form.get("quantity"), 1)}
        return _waiting(sale_id, answer.ticket, item, 202)
    if answer.status == 401:
        return sale_page(sale_id, _("Sign in to take part in the flash sale."), 401)
    if answer.status >= 300:
        message = answer.body.get("message") or _("The order cannot be placed.")
        unpaid = _unpaid_order_url(sale_id) if answer.body.get("error") == "pending_order" else None
        return sale_page(sale_id, message, answer.status, unpaid)
    order = answer.order
    return render_template(
        "flashsale/placed.html",
        order=order,
        sale_id=sale_id,
        deadline_text=timing.local_text(aware(order.pay_deadline)),
        order_url=cashier_url(order),
    ), answer.status


# --- the queue (排队中): a browser's admitted attempt ---------------------------------------------

#: how long the waiting page's picture of an item is kept (title, option, picture, price)
CARD_SECONDS = 30.0


def _valid_ticket(ticket: str) -> bool:
    return len(ticket) == 32 and all(c in "0123456789abcdef" for c in ticket)


def _own_ticket(ticket: str) -> dict | None:
    """The ticket's fields when it is the signed-in shopper's of this store (one Redis round
    trip; the shopper from the cookie session, which the process keeps), else None."""
    customer = principal("shopper")
    if customer is None or not _valid_ticket(ticket):
        return None
    fields = admission.read_ticket(current_app, current_store().id, ticket)
    if not fields or fields.get("store") != str(current_store().id) or fields.get("customer") != str(customer.id):
        return None
    return fields


def _ticket_item(sale_id: int, sku_id) -> dict | None:
    """What the waiting page shows of the item (kept per process for :data:`CARD_SECONDS`: a
    crowd's waiting pages read the sale once)."""
    from mallow_flashsale import present

    sku = buying.whole_number(sku_id)
    if sku is None:
        return None
    cards = current_app.extensions.setdefault("mallow_flashsale.cards", {})
    key = (current_store().id, int(sale_id), sku)
    found = cards.get(key)
    if found is not None and found[0] > time.monotonic():
        return found[1]
    sale = sales.get(sale_id)
    item = None
    if sale is not None:
        view = _sale_view(sale, timing.now())
        items = [i for i in view["items"] if i["sku_id"] == sku]
        present.decorate_items(sale, items)
        item = items[0] if items else None
        if item is not None:
            item = {k: item.get(k) for k in ("title", "option", "image", "sale_price", "regular_price")}
            item["sale_title"] = sale.title
    if len(cards) > 10_000:
        cards.clear()
    cards[key] = (time.monotonic() + CARD_SECONDS, item)
    return item


def _waiting(sale_id: int, ticket: str, item: dict | None, status: int = 200, failed: dict | None = None):
    """The waiting page (排队中…) of ``ticket``, or its refusal (``failed``: the drain's answer)."""
    unpaid_url = None
    if failed is not None and failed.get("error") == "pending_order":
        unpaid_url = _unpaid_order_url(sale_id)
    response = make_response(
        render_template(
            "flashsale/queued.html",
            sale_id=sale_id,
            ticket=ticket,
            item=item,
            failed=failed,
            unpaid_url=unpaid_url,
            ticket_url=url_for(".ticket", ticket=ticket),
            state_url=url_for(".ticket_state", ticket=ticket),
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _unpaid_order_url(sale_id: int) -> str | None:
    """The cashier of the shopper's unpaid order in the sale (one read, on a refusal only), else
    their unpaid orders."""
    from mallow_flashsale import present

    customer = principal("shopper")
    order_id = (
        db.session.execute(
            sa.select(PendingOrder.order_id).where(
                PendingOrder.sale_id == sale_id, PendingOrder.customer_id == customer.id
            )
        ).scalar()
        if customer is not None
        else None
    )
    if order_id is not None:
        return cashier_url(order_id)
    return present.core_url("storefront.orders_list", tab="unpaid")


def ticket_page(ticket: str):
    """``GET /x/flashsale/tickets/<ticket>``: the shopper's own ticket. Queued: the waiting page
    (it reloads itself without script); ordered: 303 to the order's cashier; failed: the refusal
    in words. Anyone else (another shopper, a visitor): 404."""
    fields = _own_ticket(ticket)
    if fields is None:
        abort(404)
    status = fields.get("status")
    if status == "ordered":
        response = redirect(cashier_url(int(fields["order_id"])), 303)
        response.headers["Cache-Control"] = "no-store"
        return response
    sale_id = int(fields.get("sale") or 0)
    item = _ticket_item(sale_id, fields.get("sku"))
    if item is not None and fields.get("q"):
        item = {**item, "quantity": int(fields["q"])}
    failed = None
    if status == "failed":
        body = json.loads(fields.get("body") or "{}")
        failed = {"error": body.get("error"), "message": body.get("message") or _("The order cannot be placed.")}
    return _waiting(sale_id, ticket, item, 200, failed)


def ticket_state(ticket: str):
    """``GET /x/flashsale/tickets/<ticket>/state``: what the waiting page polls (JSON, cookie
    session): ``{"status": "queued"}``, ``{"status": "ordered", "url": <cashier>}`` or
    ``{"status": "failed", "url": <the ticket page, which words the refusal>}``; 404 to anyone
    but the ticket's shopper. No query once the process knows the shopper's session."""
    fields = _own_ticket(ticket)
    if fields is None:
        response = jsonify(error="not_found", message=_("This queue ticket cannot be found."))
        response.status_code = 404
    else:
        status = fields.get("status") or "queued"
        body = {"status": status}
        if status == "ordered":
            body["url"] = cashier_url(int(fields["order_id"]))
        elif status == "failed":
            body["url"] = url_for(".ticket", ticket=ticket)
        response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- store API ------------------------------------------------------------------------------------


def api_sales():
    now = timing.now()
    return jsonify(items=[sales.as_json(s, now) for s in sales.visible_sales(now)])


def api_sale(sale_id: int):
    return jsonify(sales.as_json(_visible_sale_or_404(sale_id)))


def api_buy(sale_id: int):
    """``POST …/api/x/flashsale/sales/<id>/buy`` ``{"sku_id", "quantity", "address_id"}`` with the
    shopper's bearer token (and optionally an ``Idempotency-Key``): 201 with the order, or
    401/404/409/422/429 with ``error`` (``sold_out``, ``not_started``, ``ended``,
    ``limit_reached``, ``pending_order``, ``rate_limited`` …) and a message to show.

    With admission on (Redis), an attempt the front door sent on (this process had not met the
    sale yet, a token the mirror had lost) is admitted here the same way: 202 with the ticket and
    its ``poll_url``, as the door answers, never a slow synchronous order in the middle of the
    crowd. What admission cannot decide is placed here and now (201)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        data = {}
    answer = buying.attempt(sale_id, data, idempotency_key=(request.headers.get("Idempotency-Key") or None), queue=True)
    if answer.status == 202:
        poll_url = url_for(f"{request.blueprint}.ticket", ticket=answer.ticket)
        return jsonify(ticket=answer.ticket, status="queued", poll_url=poll_url), 202
    return jsonify(answer.body), answer.status


def api_ticket(ticket: str):
    """``GET …/api/x/flashsale/tickets/<ticket>``: an admitted attempt's ticket (``queued``,
    ``ordered`` with the order and its ``pay_url``, or ``failed`` with ``error`` and ``message``),
    to its own shopper only (404 to anyone else). The front door answers it first (no query)."""
    from mallow_flashsale import admission

    found = (
        admission.flask_poll(ticket, principal("shopper"))
        if len(ticket) == 32 and all(c in "0123456789abcdef" for c in ticket)
        else (404, {})
    )
    if found[0] == 404:
        return jsonify(error="not_found", message=_("This queue ticket cannot be found.")), 404
    if found[0] == 503:  # Redis away: ask again soon
        return jsonify(found[1]), 503, {"Retry-After": "2", "Cache-Control": "no-store"}
    return jsonify(found[1]), found[0]


def blueprints() -> list[tuple[Blueprint, str]]:
    """Fresh blueprints for one app (a blueprint object cannot be set up again once registered)."""
    pages = Blueprint("sales", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
    pages.before_request(_only_open_stores)
    pages.context_processor(_page_context)
    translations.install(pages)  # the templates translate with the plugin's catalogue
    # the same for every anonymous visitor: the front door keeps them (while the stamp holds, and
    # no longer than sales.true_for says); a signed-in shopper's page (the buy form) is rendered
    pages.add_url_rule("/", "index", cacheable(index))
    pages.add_url_rule("/<int:sale_id>", "sale", cacheable(sale_page))
    pages.add_url_rule("/<int:sale_id>/buy", "buy", buy_form, methods=["POST"])
    pages.add_url_rule("/tickets/<ticket>", "ticket", ticket_page)
    pages.add_url_rule("/tickets/<ticket>/state", "ticket_state", ticket_state)

    api = Blueprint("sales_api", __name__)
    api.before_request(_only_open_stores)
    api_route(
        api,
        "GET",
        "/sales",
        "flashsaleListSales",
        "Flash sales shoppers can see (preview, running)",
        auth=None,
        endpoint="sales",
        responses={"200": returns("The sales", shape({"items": {"type": "array", "items": SALE}}))},
    )(api_sales)
    api_route(
        api,
        "GET",
        "/sales/<int:sale_id>",
        "flashsaleGetSale",
        "One visible flash sale",
        auth=None,
        endpoint="sale",
        responses={"200": returns("The sale", SALE)},
    )(api_sale)
    api_route(
        api,
        "POST",
        "/sales/<int:sale_id>/buy",
        "flashsaleBuy",
        "Buy in a running flash sale: an order at the sale price, or why not (send an Idempotency-Key)",
        auth="shopper",
        authorize=False,
        endpoint="buy",
        body=BUY,
        validate=False,
        parameters=[{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 80}}],
        responses={
            "201": returns("The order", BOUGHT),
            "202": returns("Admitted: the order is made behind the front door; poll the ticket", QUEUED),
            "200": returns("The order first placed with this Idempotency-Key", BOUGHT),
            "409": "sold_out, not_enough, not_started, ended, limit_reached, pending_order or unavailable",
            "422": "A missing option or quantity (fields), or checkout problems (problems)",
            "429": "Too many attempts: try again in a moment",
        },
    )(api_buy)
    api_route(
        api,
        "GET",
        "/tickets/<ticket>",
        "flashsaleTicket",
        "A buy attempt admitted at the front door (202 from flashsaleBuy): queued, ordered or failed",
        auth="shopper",
        endpoint="ticket",
        responses={
            "200": returns("The ticket", TICKET),
            "404": "No such ticket of this shopper",
        },
    )(api_ticket)
    return [(pages, "storefront"), (api, "store_api")]


_INT, _TEXT, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
#: a sale as shoppers and staff see it (``published`` and ``items[].paid``: staff only)
SALE = shape(
    {
        "id": _INT,
        "title": _TEXT,
        "state": {"type": "string", "enum": ["draft", "hidden", "preheat", "live", "ended"]},
        "preheat_at": nullable(_TEXT),
        "starts_at": _TEXT,
        "ends_at": _TEXT,
        "seconds_left": _INT,
        "per_order_limit": _INT,
        "per_shopper_limit": _INT,
        "per_day_limit": _INT,
        "sold_out": _BOOL,
        "published": _BOOL,
        "items": {
            "type": "array",
            "items": shape(
                {
                    "sku_id": _INT,
                    "product_id": _INT,
                    "title": _TEXT,
                    "spec": _TEXT,
                    "regular_price": nullable(_INT),
                    "sale_price": {**_INT, "description": "fen"},
                    "quota": _INT,
                    "remaining": _INT,
                    "sold": _INT,
                    "sold_out": _BOOL,
                    "paid": _INT,
                },
                optional=("paid",),
            ),
        },
    },
    optional=("published",),
)
TICKET = shape(
    {
        "ticket": _TEXT,
        "status": {"type": "string", "enum": ["queued", "ordered", "failed"]},
        "order": {"type": "object"},
        "sale_id": _INT,
        "pay_url": _TEXT,
        "error": _TEXT,
        "message": _TEXT,
        "problems": {"type": "array", "items": {"type": "object"}},
    },
    optional=("order", "sale_id", "pay_url", "error", "message", "problems"),
)
BUY = obj(
    {"sku_id": ID, "quantity": {"type": "integer", "minimum": 1}, "address_id": ID, "note": string(200)},
    ["sku_id", "quantity", "address_id"],
    additional=True,
)
QUEUED = shape({"ticket": _TEXT, "status": {"type": "string", "enum": ["queued"]}, "poll_url": _TEXT})
BOUGHT = shape(
    {
        "order": shape(
            {
                "id": _INT,
                "number": _TEXT,
                "status": _TEXT,
                "total": {**_INT, "description": "fen"},
                "pay_deadline": _TEXT,
            }
        ),
        "sale_id": _INT,
    }
)
