"""Merchant routes: sale pages in the console (``/s/<slug>/console/x/flashsale/``) and the same
operations in the console API (``/s/<slug>/api/console/x/flashsale/``), staff of the store only.

Sold and remaining units are live: the list and the sale page show them when rendered, and
``static/console.js`` refreshes them every few seconds from ``<id>/stats`` (optional).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from mallow.sdk import (
    ID,
    MoneyError,
    Product,
    Sku,
    ValidationFailed,
    api_route,
    db,
    fen_to_yuan,
    obj,
    returns,
    shape,
    staff_required,
    string,
    yuan_to_fen,
)
from mallow_flashsale import sales, timing
from mallow_flashsale.i18n import _, translations
from mallow_flashsale.models import aware

BLANK_ROWS = 3
MAX_SKU_CHOICES = 500


def _sale_or_404(sale_id: int):
    sale = sales.get(sale_id)
    if sale is None:
        abort(404)
    return sale


def _sku_choices() -> list[dict]:
    rows = db.session.execute(
        sa.select(Sku, Product.title)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.active.is_(True))
        .order_by(Product.id.desc(), Sku.id)
        .limit(MAX_SKU_CHOICES)
    ).all()
    return [
        {"id": sku.id, "label": f"{title} {sku.spec_key}".strip(), "price": sku.price, "stock": sku.stock}
        for sku, title in rows
    ]


def _form_values(sale) -> dict:
    if sale is None:
        return {
            "title": "",
            "preheat_at": "",
            "starts_at": "",
            "ends_at": "",
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "per_day_limit": 0,
            "published": False,
            "items": [],
        }
    return {
        "title": sale.title,
        "preheat_at": timing.local_input(aware(sale.preheat_at)),
        "starts_at": timing.local_input(aware(sale.starts_at)),
        "ends_at": timing.local_input(aware(sale.ends_at)),
        "per_order_limit": sale.per_order_limit,
        "per_shopper_limit": sale.per_shopper_limit,
        "per_day_limit": sale.per_day_limit,
        "published": sale.published,
        "items": [{"sku_id": i.sku_id, "price": fen_to_yuan(i.sale_price), "quota": i.quota} for i in sale.items],
    }


def _posted_form() -> tuple[dict, dict, dict]:
    """The form as the service wants it (prices in fen), the form as typed, and money errors."""
    form = request.form
    data = {
        key: form.get(key, "")
        for key in (
            "title",
            "preheat_at",
            "starts_at",
            "ends_at",
            "per_order_limit",
            "per_shopper_limit",
            "per_day_limit",
        )
    }
    data["published"] = form.get("published") == "1"
    typed, items, errors = dict(data), [], {}
    typed["items"] = []
    for index in range(sales.MAX_ITEMS + BLANK_ROWS):
        sku, price, quota = (form.get(f"items-{index}-{k}", "").strip() for k in ("sku_id", "price", "quota"))
        if not (sku or price or quota):
            continue
        typed["items"].append({"sku_id": int(sku) if sku.isdigit() else sku, "price": price, "quota": quota})
        try:
            fen = yuan_to_fen(price)
        except MoneyError:
            errors[f"items.{len(items)}"] = ("price", _("Enter the sale price in yuan, e.g. 9.90."))
            fen = 0
        items.append({"sku_id": sku, "sale_price": fen, "quota": quota})
    data["items"] = items
    return data, typed, errors


def _render_form(sale, values, errors=None, status=200):
    return render_template(
        "flashsale/console_form.html",
        sale=sale,
        values=values,
        skus=_sku_choices(),
        errors=(errors or {}),
        blank_rows=BLANK_ROWS,
    ), status


# --- pages -------------------------------------------------------------------------------------


@staff_required
def index():
    now = timing.now()
    rows = []
    for sale in sales.all_sales():
        row = sales.as_json(sale, now, for_staff=True)
        row["starts_text"] = timing.local_text(aware(sale.starts_at))
        rows.append(row)
    return render_template("flashsale/console_list.html", sales=rows)


@staff_required
def new():
    if request.method == "POST":
        return _save(None)
    return _render_form(None, _form_values(None))


@staff_required
def edit(sale_id: int):
    sale = _sale_or_404(sale_id)
    if request.method == "POST":
        return _save(sale)
    return _render_form(sale, _form_values(sale))


def _save(sale):
    data, typed, money_errors = _posted_form()
    try:
        if money_errors:
            raise ValidationFailed(money_errors)
        saved = sales.save(data, sale)
        db.session.commit()
    except ValidationFailed as failed:
        db.session.rollback()
        return _render_form(sale, typed, {k: v[1] for k, v in failed.errors.items()}, 422)
    return redirect(url_for(".show", sale_id=saved.id)), 303


@staff_required
def show(sale_id: int):
    sale = _sale_or_404(sale_id)
    return render_template(
        "flashsale/console_sale.html",
        sale=sales.as_json(sale, for_staff=True),
        starts_text=timing.local_text(aware(sale.starts_at)),
        ends_text=timing.local_text(aware(sale.ends_at)),
    )


@staff_required
def stats(sale_id: int):
    return jsonify(sales.as_json(_sale_or_404(sale_id), for_staff=True))


@staff_required
def end(sale_id: int):
    sales.end_now(_sale_or_404(sale_id))
    db.session.commit()
    return redirect(url_for(".show", sale_id=sale_id)), 303


@staff_required
def remove(sale_id: int):
    sale = _sale_or_404(sale_id)
    try:
        sales.delete(sale)
        db.session.commit()
    except ValidationFailed as failed:
        db.session.rollback()
        return render_template(
            "flashsale/console_sale.html",
            sale=sales.as_json(sale, for_staff=True),
            starts_text=timing.local_text(aware(sale.starts_at)),
            ends_text=timing.local_text(aware(sale.ends_at)),
            error=next(iter(failed.errors.values()))[1],
        ), 409
    return redirect(url_for(".index")), 303


# --- console API -------------------------------------------------------------------------------


@staff_required
def api_list():
    now = timing.now()
    return jsonify(items=[sales.as_json(s, now, for_staff=True) for s in sales.all_sales()])


@staff_required
def api_create():
    try:
        sale = sales.save(request.get_json(silent=True) or {})
        db.session.commit()
    except ValidationFailed as failed:
        db.session.rollback()
        return jsonify(failed.as_json()), 422
    return jsonify(sales.as_json(sale, for_staff=True)), 201


@staff_required
def api_get(sale_id: int):
    return jsonify(sales.as_json(_sale_or_404(sale_id), for_staff=True))


@staff_required
def api_update(sale_id: int):
    sale = _sale_or_404(sale_id)
    try:
        sales.save(request.get_json(silent=True) or {}, sale)
        db.session.commit()
    except ValidationFailed as failed:
        db.session.rollback()
        return jsonify(failed.as_json()), 422
    return jsonify(sales.as_json(sale, for_staff=True))


@staff_required
def api_end(sale_id: int):
    sale = sales.end_now(_sale_or_404(sale_id))
    db.session.commit()
    return jsonify(sales.as_json(sale, for_staff=True))


@staff_required
def api_delete(sale_id: int):
    try:
        sales.delete(_sale_or_404(sale_id))
        db.session.commit()
    except ValidationFailed as failed:
        db.session.rollback()
        return jsonify(failed.as_json()), 409
    return "", 204


def blueprints() -> list[tuple[Blueprint, str]]:
    pages = Blueprint(
        "manage", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
    )
    translations.install(pages)  # the templates translate with the plugin's catalogue
    pages.add_url_rule("/", "index", index)
    pages.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    pages.add_url_rule("/<int:sale_id>", "show", show)
    pages.add_url_rule("/<int:sale_id>/edit", "edit", edit, methods=["GET", "POST"])
    pages.add_url_rule("/<int:sale_id>/stats", "stats", stats)
    pages.add_url_rule("/<int:sale_id>/end", "end", end, methods=["POST"])
    pages.add_url_rule("/<int:sale_id>/delete", "delete", remove, methods=["POST"])

    from mallow_flashsale.storefront import SALE

    api = Blueprint("manage_api", __name__)
    one = {"200": returns("The sale", SALE)}
    api_route(
        api,
        "GET",
        "/sales",
        "flashsaleListStoreSales",
        "Every flash sale of the store, with sold and paid units",
        auth="merchant",
        endpoint="list",
        responses={"200": returns("The sales", shape({"items": {"type": "array", "items": SALE}}))},
    )(api_list)
    api_route(
        api,
        "POST",
        "/sales",
        "flashsaleCreateSale",
        "Create a flash sale",
        auth="merchant",
        endpoint="create",
        body=SALE_FORM,
        validate="object",
        responses={"201": returns("The sale", SALE), "422": _FIELD_ERRORS},
    )(api_create)
    api_route(
        api,
        "GET",
        "/sales/<int:sale_id>",
        "flashsaleGetStoreSale",
        "A flash sale with its figures",
        auth="merchant",
        endpoint="get",
        responses=one,
    )(api_get)
    api_route(
        api,
        "PUT",
        "/sales/<int:sale_id>",
        "flashsaleUpdateSale",
        "Change a flash sale",
        auth="merchant",
        endpoint="update",
        body=SALE_FORM,
        validate="object",
        responses=one | {"422": _FIELD_ERRORS},
    )(api_update)
    api_route(
        api,
        "POST",
        "/sales/<int:sale_id>/end",
        "flashsaleEndSale",
        "End a flash sale now",
        auth="merchant",
        endpoint="end",
        responses=one,
    )(api_end)
    api_route(
        api,
        "DELETE",
        "/sales/<int:sale_id>",
        "flashsaleDeleteSale",
        "Delete a flash sale nothing was sold in",
        auth="merchant",
        endpoint="delete",
        responses={"204": "Deleted", "409": "Units were sold: end it instead"},
    )(api_delete)
    return [(pages, "console"), (api, "console_api")]


_FIELD_ERRORS = {"$ref": "#/components/responses/ValidationFailed"}
SALE_FORM = obj(
    {
        "title": string(60),
        "starts_at": {"type": "string", "description": "ISO 8601; without a zone: the store's"},
        "ends_at": {"type": "string"},
        "preheat_at": {"type": ["string", "null"], "description": "shown from then"},
        "per_order_limit": {"type": "integer", "minimum": 1},
        "per_shopper_limit": {"type": "integer", "minimum": 0},
        "per_day_limit": {"type": "integer", "minimum": 0},
        "published": {"type": "boolean"},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": obj(
                {
                    "sku_id": ID,
                    "sale_price": {"type": "integer", "description": "fen"},
                    "quota": {"type": "integer", "minimum": 1},
                },
                ["sku_id", "sale_price", "quota"],
            ),
        },
    },
    ["title", "starts_at", "ends_at", "items"],
    additional=True,
)
