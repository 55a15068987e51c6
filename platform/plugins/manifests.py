"""Showing a manifest to people: texts in the page's language, permissions in words."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

#: permissions a manifest may ask for, in words (anything else is shown as written)
PERMISSIONS = {
    "pricing": _l("Change prices in checkout"),
    "checkout": _l("Refuse a checkout with a message"),
    "orders": _l("Read this store's orders and follow their lifecycle"),
    "customers": _l("Read this store's shoppers"),
    "catalog": _l("Read this store's products"),
    "storefront": _l("Add pages and content to the storefront"),
    "console": _l("Add pages to the merchant console"),
    "api": _l("Add API endpoints to this store"),
    "blocks": _l("Add blocks to the page builder"),
    "tables": _l("Keep its own data in this store's database"),
    "jobs": _l("Run background jobs for this store"),
    "payments": _l("Refund payments"),
    "pricing.surcharge": _l("Add surcharges to an order (raise its price)"),
    "pricing.zero_total": _l("Bring an order's total to zero (a free order, paid at once)"),
}


def localized(value) -> str:
    """A manifest text: a string, or ``{"zh_CN": …, "en": …}`` picked by the page's language."""
    if isinstance(value, dict):
        try:
            locale = str(get_locale() or "zh_CN")
        except RuntimeError:  # outside a request
            locale = "zh_CN"
        return str(
            value.get(locale)
            or value.get(locale.split("_")[0])
            or value.get("zh_CN")
            or value.get("en")
            or next(iter(value.values()), "")
        )
    return "" if value is None else str(value)


def permission_label(code: str) -> str:
    label = PERMISSIONS.get(code)
    return str(label) if label is not None else code
