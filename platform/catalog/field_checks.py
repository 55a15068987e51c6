"""Checks of one product field at a time, shared by the product save and the SKU bulk edit.

Each check answers a value or a field error: whole numbers (:func:`whole`: never a float, so
prices are integer fen), the texts, the video URL (https only), the category and the shipping
template (both must be the store's own).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.catalog import categories
from mallow.catalog.models import Product
from mallow.db import db
from mallow.validation import Errors
from mallow.web.ids import id_value

TITLE_MAX = 120
SUBTITLE_MAX = 200
VIDEO_MAX = 500
MAX_STOCK = 1_000_000_000
MAX_WEIGHT_G = 1_000_000
CODE_MAX = 64


def whole(value, *, minimum: int, maximum: int):
    """An int in range, or a code: never a float (12.0 is refused: send integer fen)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,13}\s*", value):
            value = int(value)
        else:
            return None, "invalid"
    if value < minimum:
        return None, "negative" if minimum == 0 else "too_small"
    if value > maximum:
        return None, "too_large"
    return value, None


NUMBER_MESSAGES = {
    "invalid": lambda: _("Enter a whole number."),
    "negative": lambda: _("Cannot be negative."),
    "too_small": lambda: _("The number is too small."),
    "too_large": lambda: _("The number is too large."),
    "required": lambda: _("Required."),
}
PRICE_MESSAGES = {
    "invalid": lambda: _("Send the price as a whole number of fen (1 yuan = 100 fen)."),
    "negative": lambda: _("A price cannot be negative."),
    "too_large": lambda: _("The price is too large."),
    "required": lambda: _("Enter a price."),
    "too_precise": lambda: _("Use at most two decimals (fen)."),
}


def check_video_url(raw) -> tuple[str | None, str | None]:
    """``(url, None)`` for an https URL (or ``(None, None)`` for none), else ``(None, code)``."""
    if raw is None:
        return None, None
    url = str(raw).strip()
    if not url:
        return None, None
    if len(url) > VIDEO_MAX or re.search(r"[\s\x00-\x1f\"'<>\\]", url):
        return None, "invalid"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, "invalid"
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.password:
        return None, "not_https"
    return url, None


def category_id(raw, errors: Errors):
    if raw in (None, "", 0, "0"):
        return None
    category = categories.get(raw) if not isinstance(raw, bool) else None
    if category is None:
        errors.add("category_id", "not_found", _("Choose a category of this store."))
        return None
    return category.id


def shipping_template_id(raw, errors: Errors):
    """None (the store's default template) or a shipping template of this store.

    The catalogue sits below shipping: it knows the template table only through the product's
    own foreign key (``Product.shipping_template_id``), and checks that the row it names exists."""
    if raw in (None, ""):
        return None
    template_id = id_value(raw)
    if template_id is None or not _referenced_row_exists(Product.__table__.c.shipping_template_id, template_id):
        errors.add("shipping_template_id", "unknown", _("Choose a shipping template of this store."))
        return None
    return template_id


def _referenced_row_exists(column: sa.Column, value: int) -> bool:
    """Whether the row that ``column``'s foreign key (a product's) points at with ``value``
    exists, read where the product's own table is (the active store)."""
    (foreign_key,) = column.foreign_keys
    target = foreign_key.column
    found = db.session.execute(
        sa.select(target).where(target == value), bind_arguments={"mapper": sa.inspect(Product)}
    ).first()
    return found is not None


def text_field(data: dict, key: str, limit: int, errors: Errors, required: bool = False) -> str:
    value = data.get(key)
    value = "" if value is None else (value if isinstance(value, str) else str(value)).strip()
    if required and not value:
        errors.add(key, "required", _("Enter a title.") if key == "title" else _("Required."))
    elif len(value) > limit:
        errors.add(key, "too_long", _("Use at most %(max)s characters.", max=limit))
    return value
