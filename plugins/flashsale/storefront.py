"""Shopper-facing routes: the sale pages (``/s/<slug>/x/flashsale/``) and the store API
(``/s/<slug>/api/x/flashsale/``) with the buy endpoint.

Pages are rendered on the server, countdown included (the seconds left are in the HTML); the
small ``static/countdown.js`` only ticks it down and reloads the page when the sale opens or
ends (progressive enhancement: without it the page is complete and correct when loaded).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, jsonify, render_template, request, url_for

from mallow.sdk import (
    ID,
    address_book,
    api_route,
    cashier_url,
    current_store,
    nullable,
    obj,
    principal,
    returns,
    shape,
    string,
)
from mallow_flashsale import buying, sales, timing
from mallow_flashsale.i18n import _, translations
from mallow_flashsale.models import aware


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


def _sale_view(sale, now) -> dict:
    data = sales.as_json(sale, now)
    data["countdown"] = countdown_text(data["seconds_left"])
    data["starts_text"] = timing.local_text(aware(sale.starts_at))
    data["ends_text"] = timing.local_text(aware(sale.ends_at))
    return data


def _visible_sale_or_404(sale_id: int):
    sale = sales.get(sale_id)
    if sale is None or sale.state(timing.now()) in ("draft", "hidden"):
        abort(404)
    return sale


# --- pages ------------------------------------------------------------------------------------


def index():
    now = timing.now()
    return render_template(
        "flashsale/index.html",
        sales=[_sale_view(s, now) for s in sales.visible_sales(now)],
        days_format=_("%(days)s d"),
    )


def sale_page(sale_id: int, error: str | None = None, status: int = 200):
    from mallow_flashsale import present

    sale = _visible_sale_or_404(sale_id)
    now = timing.now()
    customer = principal("shopper")
    shopper_addresses = address_book(customer.id) if customer else []
    view = _sale_view(sale, now)
    present.decorate_items(sale, view["items"])
    chosen = request.form.get("sku_id", "") if request.method == "POST" else ""
    return render_template(
        "flashsale/sale.html",
        sale=view,
        customer=customer,
        addresses=shopper_addresses,
        error=error,
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
    """The page's buy button (a form with its CSRF token, the signed-in shopper's cookie)."""
    _visible_sale_or_404(sale_id)
    answer = buying.attempt(sale_id, request.form, idempotency_key=request.form.get("attempt") or None)
    if answer.status == 401:
        return sale_page(sale_id, _("Sign in to take part in the flash sale."), 401)
    if answer.status >= 300:
        return sale_page(sale_id, answer.body.get("message") or _("The order cannot be placed."), answer.status)
    order = answer.order
    return render_template(
        "flashsale/placed.html",
        order=order,
        sale_id=sale_id,
        deadline_text=timing.local_text(aware(order.pay_deadline)),
        order_url=cashier_url(order),
    ), answer.status


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
    ``limit_reached``, ``pending_order``, ``rate_limited`` …) and a message to show."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        data = {}
    answer = buying.attempt(sale_id, data, idempotency_key=(request.headers.get("Idempotency-Key") or None))
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
    return jsonify(found[1]), found[0]


def blueprints() -> list[tuple[Blueprint, str]]:
    """Fresh blueprints for one app (a blueprint object cannot be set up again once registered)."""
    pages = Blueprint("sales", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
    pages.before_request(_only_open_stores)
    pages.context_processor(_page_context)
    translations.install(pages)  # the templates translate with the plugin's catalogue
    pages.add_url_rule("/", "index", index)
    pages.add_url_rule("/<int:sale_id>", "sale", sale_page)
    pages.add_url_rule("/<int:sale_id>/buy", "buy", buy_form, methods=["POST"])

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
