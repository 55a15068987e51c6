"""The storefront's chrome on every page of a store (core and plugin pages): the bottom tab bar
(首页 · 分类 · 购物车 with the cart's count · 我的), the signed-in shopper and the storefront's
static files, as the template globals ``storefront_tabs``, ``storefront_shopper`` and
``storefront_asset`` (an app-wide context processor of the ``storefront`` blueprint).
"""

from __future__ import annotations

from flask import request

from mallow.builder.render import store_urls
from mallow.builder.themes import quick_gettext as _
from mallow.builder.themes import translated
from mallow.cart.current import count_badge, current_shopper, item_count
from mallow.tenants.context import current_store
from mallow.web.assets import asset_url
from mallow.web.blueprints import storefront as bp

#: pages with a bottom bar of their own (buy bar, pay bar): no tab bar, whatever their template
#: says (pages opt out with an empty ``{% block tabbar %}``; these are covered either way)
TABBAR_HIDDEN = frozenset(
    {
        "storefront.product",
        "storefront.checkout_page",
        "storefront.place_order",
        "storefront.order_detail",
        "storefront.request_aftersale",
        "storefront.buy_now",
    }
)
#: endpoint words that mean "this page pays or checks out" (cashiers of any provider or plugin)
TABBAR_HIDDEN_WORDS = ("checkout", "cashier", "pay_", "_pay", "sandbox")
#: which tab a page belongs to (the tab shown as current)
TAB_OF = {
    "storefront.home": "home",
    "storefront.categories": "category",
    "storefront.category": "category",
    "storefront.cart": "cart",
    "storefront.account": "me",
    "storefront.orders_list": "me",
}
#: other pages under 我的 (the shopper's own: profile, addresses, a plugin's centre)
ME_WORDS = ("account", "orders_list", "address", "profile", "distribution")


def tabbar_hidden(endpoint: str | None) -> bool:
    endpoint = endpoint or ""
    return endpoint in TABBAR_HIDDEN or any(word in endpoint for word in TABBAR_HIDDEN_WORDS)


@translated
def tabs() -> list[dict]:
    """The bottom tab bar of this page: 首页 · 分类 · 购物车 (with the count) · 我的; none on a
    closed store and on pages with a bottom bar of their own."""
    store = current_store()
    if store is None or not store.is_open or tabbar_hidden(request.endpoint):
        return []
    count = item_count()
    url_for = store_urls().url_for  # the same addresses on every page of the store: made once
    entries = [
        {"key": "home", "label": _("Home"), "url": url_for("storefront.home")},
        {"key": "category", "label": _("Browse"), "url": url_for("storefront.categories")},
        {
            "key": "cart",
            "label": _("Cart"),
            "url": url_for("storefront.cart"),
            "count": count,
            "badge": count_badge(count),
        },
        {"key": "me", "label": _("Me"), "url": url_for("storefront.account")},
    ]
    endpoint = request.endpoint or ""
    current = TAB_OF.get(endpoint) or ("me" if any(word in endpoint for word in ME_WORDS) else None)
    for entry in entries:
        entry["current"] = entry["key"] == current
    return entries


@bp.app_context_processor
def storefront_chrome():
    return {"storefront_asset": asset_url, "storefront_shopper": current_shopper, "storefront_tabs": tabs}
