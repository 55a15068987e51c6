"""The console's product form ↔ the dict :mod:`mallow.catalog.products` takes.

The form works without JavaScript: specs are text rows (``颜色: 红, 蓝``; full-width ``：``,
``，`` and ``、`` are fine), and the SKU table (one row per combination, prices in yuan) is
rebuilt by the server when the merchant presses "Update SKU table" — or when the specs were
edited and the rows no longer match them, in which case nothing is saved and the refreshed
table is shown with a message. Each row may choose its picture (规格图: ``skus.<i>.image``, a
library image id or empty for none) or upload one (``skus.<i>.image_file``, see
:func:`sku_uploads`); a form without the field keeps the SKU's picture.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

from mallow.catalog.specs import clean_specs, combinations, spec_key, spec_label
from mallow.money import MoneyError, fen_to_yuan, yuan_to_fen
from mallow.validation import Errors, ValidationFailed

MONEY_MESSAGES = {
    "required": lambda: _("Enter a price."),
    "invalid": lambda: _("Enter an amount in yuan, e.g. 12.50."),
    "too_precise": lambda: _("Use at most two decimals (fen)."),
    "too_large": lambda: _("The price is too large."),
    "negative": lambda: _("A price cannot be negative."),
}
_ROW = re.compile(r"^skus\.(\d{1,3})\.key$")


def money_field(form, name: str, errors: Errors, *, required: bool = True) -> int | None:
    """A yuan field of a form as fen (through the one exact helper), or a field error."""
    raw = form.get(name, "")
    if not required and not (raw or "").strip():
        return None
    try:
        return yuan_to_fen(raw)
    except MoneyError as problem:
        errors.add(name, problem.code, MONEY_MESSAGES[problem.code]())
        return None


def parse_specs_text(text: str, errors: Errors) -> list[dict]:
    """``"颜色: 红, 蓝\\n尺码: M, L"`` → ``[{"name": "颜色", "values": ["红", "蓝"]}, …]``."""
    axes = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = re.match(r"^([^:：]*)[:：](.*)$", line)
        if match is None:
            errors.add(
                "specs_text",
                "syntax",
                _("Line %(line)s: write a name, a colon and the values, e.g. Colour: red, blue.", line=number),
            )
            continue
        name, values = match.groups()
        axes.append({"name": name.strip(), "values": [v.strip() for v in re.split(r"[,，、;；]", values) if v.strip()]})
    return axes


def specs_to_text(specs: list[dict]) -> str:
    return "\n".join(f"{axis['name']}: {', '.join(axis['values'])}" for axis in specs or [])


def parse_key(key: str) -> dict:
    values = {}
    for part in (key or "").split(";"):
        if part:
            name, _sep, value = part.partition(":")
            values[name] = value
    return values


def _posted_rows(form) -> dict[str, dict]:
    rows = {}
    for name in form:
        match = _ROW.match(name)
        if match:
            index = int(match.group(1))
            key = form.get(name, "")
            rows[key] = {
                field: form.get(f"skus.{index}.{field}", "")
                for field in ("price", "market_price", "stock", "weight_g", "code")
            }
            rows[key]["image"] = form.get(f"skus.{index}.image")  # None: not on the form, kept
            rows[key]["index"] = index
    return rows


def sku_rows(specs: list[dict], product=None, form=None) -> list[dict]:
    """One row per combination, values from the posted form, else the product's SKU, else empty."""
    posted = _posted_rows(form) if form is not None else {}
    existing = {sku.spec_key: sku for sku in product.skus} if product is not None else {}
    rows = []
    for index, values in enumerate(combinations(specs)):
        key = spec_key(values)
        row = {"index": index, "key": key, "label": spec_label(values, specs) or _("Default")}
        current = str(existing[key].media_id or "") if key in existing else ""
        if key in posted:
            row.update({k: v for k, v in posted[key].items() if k != "index"})
            row["image"] = current if row["image"] is None else row["image"].strip()
        elif key in existing:
            sku = existing[key]
            row.update(
                price=fen_to_yuan(sku.price),
                market_price=fen_to_yuan(sku.market_price),
                stock=str(sku.stock),
                weight_g=str(sku.weight_g),
                code=sku.code,
                image=current,
            )
        else:
            row.update(price="", market_price="", stock="0", weight_g="0", code="", image="")
        rows.append(row)
    return rows


class NeedsRefresh(Exception):
    """The posted SKU rows do not match the posted specs: show the rebuilt table, save nothing."""

    def __init__(self, specs):
        super().__init__("SKU table out of date")
        self.specs = specs


def product_data(form, *, creating: bool) -> dict:
    """The dict for ``products.create``/``update`` from a posted product form.

    Raises ``ValidationFailed`` (field names as in the form) or :class:`NeedsRefresh`."""
    errors = Errors()
    specs = parse_specs_text(form.get("specs_text", ""), errors)
    data = {
        "title": form.get("title", ""),
        "subtitle": form.get("subtitle", ""),
        "category_id": form.get("category_id") or None,
        "description_html": form.get("description_html", ""),
        "video_url": form.get("video_url", ""),
        "sort": form.get("sort", "") or 0,
        "specs": specs,
    }
    if form.get("status"):
        data["status"] = form["status"]
    spec_errors = Errors()
    cleaned = clean_specs(specs, spec_errors)
    for code, message in spec_errors.errors.values():
        errors.add("specs_text", code, message)
    if "specs_text" in errors:
        errors.raise_if_any()
    posted = _posted_rows(form)
    wanted = [spec_key(values) for values in combinations(cleaned)]
    if set(posted) != set(wanted) or form.get("action") == "refresh":
        raise NeedsRefresh(cleaned)
    entries = []
    for key in wanted:
        row = posted[key]
        i = row["index"]
        entry = {
            "spec_values": parse_key(key),
            "price": money_field(form, f"skus.{i}.price", errors),
            "market_price": money_field(form, f"skus.{i}.market_price", errors, required=False),
            "stock": row["stock"].strip() or "0",
            "weight_g": row["weight_g"].strip() or "0",
            "code": row["code"],
        }
        if row["image"] is not None:
            entry["image"] = row["image"].strip() or None
        entries.append((i, entry))
    errors.raise_if_any()
    # the service names errors by list position: order the list by the form's row index
    entries.sort(key=lambda pair: pair[0])
    if [i for i, _entry in entries] != list(range(len(entries))):
        raise NeedsRefresh(cleaned)
    data["skus"] = [entry for _i, entry in entries]
    return data


def sku_uploads(files, count: int) -> dict:
    """``{row index: file}`` of the SKU rows' picture uploads (``skus.<i>.image_file``)."""
    found = {}
    for index in range(count):
        upload = files.get(f"skus.{index}.image_file")
        if upload is not None and upload.filename:
            found[index] = upload
    return found


def form_errors(failed: ValidationFailed) -> ValidationFailed:
    """Service errors renamed to the form's fields (``specs.*`` → ``specs_text``)."""
    renamed = {}
    for field, problem in failed.errors.items():
        if field.startswith("specs"):
            field = "specs_text"
        elif field.count(".") == 1 and field.startswith("skus."):
            field = "skus"
        renamed.setdefault(field, problem)
    return ValidationFailed(renamed)


def image_order(form) -> dict[int, int]:
    order = {}
    for name in form:
        match = re.match(r"^image\.(\d{1,12})\.sort$", name)
        if match:
            try:
                order[int(match.group(1))] = int(form.get(name) or 0)
            except ValueError:
                continue
    return order


def bulk_items(form, skus) -> tuple[list[dict], dict[int, int]]:
    """Changed prices/stocks of a bulk-edit form (fields ``sku.<id>.price``/``.stock``) as
    ``bulk_update_skus`` items, and ``{item index: sku id}`` to name errors; money errors raise."""
    errors = Errors()
    items, where = [], {}
    for sku in skus:
        price_name, stock_name = f"sku.{sku.id}.price", f"sku.{sku.id}.stock"
        if price_name not in form and stock_name not in form:
            continue
        item = {"sku_id": sku.id}
        price = money_field(form, price_name, errors)
        if price is not None and price != sku.price:
            item["price"] = price
        raw_stock = (form.get(stock_name) or "").strip()
        if not raw_stock:
            errors.add(stock_name, "required", _("Required."))
        elif raw_stock != str(sku.stock):
            item["stock"] = raw_stock  # checked by bulk_update_skus
        if len(item) > 1:
            where[len(items)] = sku.id
            items.append(item)
    errors.raise_if_any()
    return items, where


def bulk_errors(failed: ValidationFailed, where: dict[int, int]) -> ValidationFailed:
    renamed = {}
    for field, problem in failed.errors.items():
        parts = field.split(".")
        if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) in where:
            sku_id = where[int(parts[1])]
            field = f"sku.{sku_id}.{parts[2] if len(parts) > 2 else 'stock'}"
            if field.endswith(".sku_id"):
                field = f"sku.{sku_id}.stock"
        renamed.setdefault(field, problem)
    return ValidationFailed(renamed)
