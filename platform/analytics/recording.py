"""Recording storefront events: who (the visitor), what, when, which product, from where.

* **Views** (page and product) come from the beacon (:mod:`mallow.analytics.beacon`): the
  storefront's pages are mostly kept pages the front door answers without Flask, so the page's
  own script reports the view; with the door hook (:func:`door_view`) the door reports them instead.
* **Add to cart**, **share visits** and **distributor link visits**: an ``after_request`` hook
  that looks at the endpoint (no query: the product is resolved from the SKU at rollup time).
* **Order placed** and **payment**: the core's own ``mallow_order_placed`` / ``mallow_order_paid``
  hook implementations, kept on the session and handed to the buffer after the commit.

The visitor is the first-party cookie :data:`VISITOR_COOKIE` (set by the beacon's script), else
``c<customer id>``. The source is the request's own (a share link ``/share/r/<code>/…``, a
distributor link ``/x/distribution/r/<code>``, a ``utm_source``) or the one remembered in the
cookie :data:`SOURCE_COOKIE` (30 days), else direct.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pluggy
import sqlalchemy as sa
from flask import current_app, g, has_request_context, request

from mallow.analytics import models as m
from mallow.analytics.buffer import buffer_of
from mallow.db.outcomes import outermost
from mallow.db.session import TenantSession
from mallow.tenants.context import current_store

hookimpl = pluggy.HookimplMarker("mallow")

VISITOR_COOKIE = "mallow_v"
SOURCE_COOKIE = "mallow_src"
SOURCE_MAX_AGE = 30 * 86400
_PENDING = "mallow.analytics.pending"
_VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_SHARE = re.compile(r"/share/r/([A-Za-z0-9_-]{1,40})/")
_DISTRIBUTOR = re.compile(r"/x/distribution/r/([A-Za-z0-9_-]{1,40})")
_UTM = re.compile(r"[?&]utm_source=([A-Za-z0-9_.-]{1,40})")
_PRODUCT = re.compile(r"(?:^|/)products/(\d{1,10})(?:$|[/?#])")
#: endpoints that put something in the cart (form and API), and where their SKU is
CART_ENDPOINTS = frozenset({"storefront.add_to_cart", "storefront.buy_now", "store_api.addToCart"})
SHARE_ENDPOINTS = frozenset({"storefront.share_visit_product", "storefront.share_visit_page"})


def row(
    kind: int,
    visitor: str,
    *,
    at: datetime | None = None,
    customer_id=None,
    product_id=None,
    sku_id=None,
    order_id=None,
    amount=None,
    source: int = m.DIRECT,
    ref: str = "",
    path: str = "",
) -> dict:
    """An event row with every column (the buffer's multi-row INSERT needs the same keys)."""
    return {
        "at": at or datetime.now(UTC),
        "kind": kind,
        "visitor": visitor[:40],
        "customer_id": customer_id,
        "product_id": product_id,
        "sku_id": sku_id,
        "order_id": order_id,
        "amount": amount,
        "source": source,
        "ref": ref[:40],
        "path": path[:200],
    }


def source_of(path_and_query: str, remembered: str | None) -> tuple[int, str]:
    """``(source, ref)`` of a request: its own link first, then the remembered cookie."""
    found = _SHARE.search(path_and_query)
    if found:
        return m.SHARE, found.group(1)
    found = _DISTRIBUTOR.search(path_and_query)
    if found:
        return m.DISTRIBUTOR, found.group(1)
    found = _UTM.search(path_and_query)
    if found:
        return m.CAMPAIGN, found.group(1)
    if remembered and len(remembered) > 2 and remembered[1] == ":" and _CODE.match(remembered[2:]):
        kind = {"s": m.SHARE, "d": m.DISTRIBUTOR, "c": m.CAMPAIGN}.get(remembered[0])
        if kind is not None:
            return kind, remembered[2:]
    return m.DIRECT, ""


def product_of(path: str) -> int | None:
    found = _PRODUCT.search(path)
    return int(found.group(1)) if found and 0 < int(found.group(1)) < 2**31 else None


def visitor_of(cookies, customer_id: int | None = None) -> str:
    raw = cookies.get(VISITOR_COOKIE) if cookies is not None else None
    if raw and _VISITOR.match(raw):
        return raw
    return f"c{customer_id}" if customer_id else ""


def _cached_shopper_id() -> int | None:
    """The shopper this request already loaded (never a query of its own)."""
    found = g.get("mallow_principals", {}).get("shopper")
    return found[0].id if found else None


def record_view(app, store_id: int, path: str, cookies) -> bool:
    """A page view (and a product view on a product page) of ``path`` (in-store path with its
    query) by the visitor of ``cookies``: the beacon and the door hook call this."""
    visitor = visitor_of(cookies)
    if not visitor:
        return False
    source, ref = source_of(path, cookies.get(SOURCE_COOKIE))
    buffer = buffer_of(app)
    now = datetime.now(UTC)
    product_id = product_of(path.split("?", 1)[0])
    added = buffer.add(store_id, row(m.PAGE_VIEW, visitor, at=now, source=source, ref=ref, path=path))
    if product_id is not None:
        added = (
            buffer.add(
                store_id, row(m.PRODUCT_VIEW, visitor, at=now, product_id=product_id, source=source, ref=ref, path=path)
            )
            and added
        )
    return added


def door_view(app, store_id: int, path: str, cookies) -> None:
    """The front door's hook for a kept page it answered (``app.extensions[DOOR_HOOK]``)."""
    if app.config.get("MALLOW_ANALYTICS_VIEWS", "beacon") == "door":
        record_view(app, store_id, path, cookies)


DOOR_HOOK = "mallow.edge.page_seen"


def after_request(response):
    """Add to cart, share and distributor visits; remembers the source of a share link."""
    endpoint = request.endpoint
    if endpoint is None or response.status_code >= 400:
        return response
    if endpoint in CART_ENDPOINTS:
        sku = request.form.get("sku_id")
        if sku is None:
            body = request.get_json(silent=True)
            sku = body.get("sku_id") if isinstance(body, dict) else None
        _record_here(m.ADD_TO_CART, sku_id=int(sku) if str(sku).isdigit() and 0 < int(sku) < 2**31 else None)
    elif endpoint in SHARE_ENDPOINTS or "/x/distribution/r/" in request.path:
        source, ref = source_of(request.path + "/", None)
        if source != m.DIRECT:
            product = request.view_args.get("product_id") if request.view_args else None
            _record_here(m.SHARE_VISIT, product_id=product, source=source, ref=ref)
            prefix = "s" if source == m.SHARE else "d"
            response.set_cookie(
                SOURCE_COOKIE, f"{prefix}:{ref}", max_age=SOURCE_MAX_AGE, samesite="Lax", httponly=False
            )
    return response


def _record_here(kind: int, **fields) -> None:
    store = current_store()
    if store is None:
        return
    customer_id = _cached_shopper_id()
    visitor = visitor_of(request.cookies, customer_id)
    if not visitor:
        return
    if "source" not in fields:
        fields["source"], fields["ref"] = source_of(request.full_path, request.cookies.get(SOURCE_COOKIE))
    buffer_of(current_app).add(store.id, row(kind, visitor, customer_id=customer_id, path=request.path, **fields))


def _pending(kind: int, order, amount: int) -> None:
    """Keep an order's event on the session: the buffer gets it after the commit."""
    store = current_store()
    if store is None:
        return
    visitor, source, ref = f"c{order.customer_id}", m.DIRECT, ""
    if has_request_context():
        visitor = visitor_of(request.cookies, order.customer_id)
        source, ref = source_of(request.full_path, request.cookies.get(SOURCE_COOKIE))
    from mallow.db import db

    db.session.info.setdefault(_PENDING, []).append(
        (
            store.id,
            row(kind, visitor, customer_id=order.customer_id, order_id=order.id, amount=amount, source=source, ref=ref),
        )
    )


@hookimpl
def mallow_order_placed(order, context):
    _pending(m.ORDER_PLACED, order, int(order.total))


@hookimpl
def mallow_order_paid(order):
    if not order.is_test:
        _pending(m.PAYMENT, order, int(order.total))


@outermost
def _after_commit(session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        buffer = buffer_of(current_app)
        for store_id, event in pending:
            buffer.add(store_id, event)


@outermost
def _after_rollback(session) -> None:
    session.info.pop(_PENDING, None)


def install(app) -> None:
    app.after_request(after_request)
    app.extensions[DOOR_HOOK] = lambda store_id, path, cookies: door_view(app, store_id, path, cookies)
    for name, listener in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not sa.event.contains(TenantSession, name, listener):
            sa.event.listen(TenantSession, name, listener)
