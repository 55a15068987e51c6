"""The three page areas that every domain adds its pages to.

``storefront`` (``/s/<slug>/…``, shoppers), ``console`` (``/s/<slug>/console/…``, the store's
staff) and ``admin`` (``/admin/…``, platform admins) are shared by many domains: orders,
catalogue, after-sales, shipping and the rest each put their routes on them. They are defined
here, in the web foundation, so that a domain's view module imports only downward; the
composition root (:func:`mallow.app.create_app`) imports every view module and registers the
blueprints once. The endpoint names (``storefront.order_detail``, ``console.products``…) are the
blueprints' names, which templates, themes and plugins link to.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix

storefront = Blueprint("storefront", __name__, url_prefix=store_url_prefix())
console = Blueprint("console", __name__, url_prefix=store_url_prefix("/console"))
admin = Blueprint("admin", __name__, url_prefix="/admin")


#: what a shopper still reaches in a closing store: their orders and account (the orders already
#: placed are still fulfilled and refunded), signing in and out, images
CLOSING_STORE_PAGES = frozenset(
    {
        "storefront.orders_list",
        "storefront.order_detail",
        "storefront.account",
        "storefront.login",
        "storefront.login_with_code",
        "storefront.logout",
        "storefront.media",
    }
)


@storefront.before_request
def only_open_stores():
    """A store that is not open (awaiting approval, suspended, closing, closed) shows shoppers a
    503 page saying why (``storefront/not_open.html``). A closing store still shows shoppers their
    orders (:data:`CLOSING_STORE_PAGES`)."""
    store = current_store()
    if store is None or store.is_open:
        return None
    if store.status == "closing" and request.endpoint in CLOSING_STORE_PAGES:
        return None
    return render_template("storefront/not_open.html"), 503, {"Retry-After": "86400"}
