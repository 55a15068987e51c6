"""Console catalogue pages (routes on the ``console`` blueprint, staff of the store only):
products (list, form, shelf status), product pictures, categories, bulk price/stock edit, low
stock. Product images are library images (the library's page: :mod:`mallow.console.media`).

Server-rendered, no JavaScript needed; every form carries the CSRF token.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.catalog import categories, forms, products, search, sku_bulk_edit
from mallow.catalog.images import media_name
from mallow.catalog.models import PRODUCT_STATES, Product, Sku
from mallow.catalog.sku_images import thumb_path
from mallow.catalog.specs import clean_specs, spec_label
from mallow.db import db
from mallow.inventory import stock
from mallow.media import library
from mallow.media.images import absolute_path
from mallow.statemachine import InvalidTransition
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed
from mallow.web import render_form, safe_target
from mallow.web.blueprints import console as bp

BULK_PAGE = 200
PICKER_PAGE = 24


def console_image_url(path: str | None) -> str | None:
    name = media_name(path)
    return url_for("console.catalog_media", name=name) if name else None


STATUS_LABELS = {"draft": lambda: _("Draft"), "on_shelf": lambda: _("On shelf"), "off_shelf": lambda: _("Off shelf")}


def _status_choices(current: str | None) -> list[tuple[str, str]]:
    if current is None:
        return [(s, STATUS_LABELS[s]()) for s in ("draft", "on_shelf")]
    allowed = [current] + sorted(PRODUCT_STATES.transitions[current])
    return [(s, STATUS_LABELS[s]()) for s in allowed]


def _common():
    return {
        "image_url": console_image_url,
        "status_labels": {k: v() for k, v in STATUS_LABELS.items()},
        "tree": categories.tree(),
    }


# -- products ---------------------------------------------------------------------------------


@bp.get("/products")
@staff_required
def products_list():
    try:
        query = search.parse_query(request.args, console=True)
    except ValidationFailed as failed:
        return render_form("console/catalog/products.html", errors=failed, page=None, **_common())
    page = search.search(query, shopper=False)
    return render_template("console/catalog/products.html", page=page, query=query, **_common())


def _library_picker(product, page_number: int) -> dict:
    """One page of the store's library for the product form, the ids already chosen (kept
    across pages in hidden fields) and the images the product shows already."""
    total, assets = library.assets(page_number, per_page=PICKER_PAGE)
    chosen = [i for i in request.form.getlist("media") if i.isdigit()] if request.method == "POST" else []
    return {
        "page": search.Page(assets, total, page_number, PICKER_PAGE, {}),
        "entries": [library.asset_json(a) for a in assets],
        "chosen": chosen,
        "on_product": {image.path for image in product.images} if product is not None else set(),
        "paths": {a.id: a.path for a in assets},
    }


def _product_form(product=None, specs=None, errors=None, status=200, notice=None, library_page=None):
    specs = specs if specs is not None else (product.specs if product is not None else [])
    posted = request.form if request.method == "POST" else None
    if library_page is None:
        library_page = search.page_number(request.values.get("library_page"))
    rows = forms.sku_rows(specs, product, posted)
    values = {}  # a posted form shows what was posted; a fresh one the product's values
    if posted is None:
        values = {"specs_text": forms.specs_to_text(specs), "sort": "0", "status": "draft"}
        if product is not None:
            values.update(
                title=product.title,
                subtitle=product.subtitle,
                category_id=str(product.category_id or ""),
                description_html=product.description_html,
                video_url=product.video_url or "",
                sort=str(product.sort),
                status=product.status,
            )
    return render_form(
        "console/catalog/product_form.html",
        status=status,
        errors=errors,
        product=product,
        rows=rows,
        values=values,
        notice=notice,
        picker=_library_picker(product, library_page),
        sku_image_choices=_sku_image_choices(product, rows),
        status_choices=_status_choices(product.status if product is not None else None),
        **_common(),
    )


def _sku_image_choices(product, rows) -> list[dict]:
    """What each SKU row's picture picker offers: the product's images (those in the library), then
    any other library image a row shows now (``{"id": "12", "thumb_url": …}``)."""
    gallery = sorted(product.images, key=lambda image: image.sort) if product is not None else []
    ids = library.ids_by_path(image.path for image in gallery)
    choices = {str(ids[image.path]): console_image_url(image.thumb_path) for image in gallery if image.path in ids}
    shown = library.get_many(row["image"] for row in rows if row["image"] and row["image"] not in choices)
    choices.update({str(asset.id): console_image_url(thumb_path(asset)) for asset in shown.values()})
    return [{"id": media_id, "thumb_url": url} for media_id, url in choices.items() if url]


def _save_product(product=None):
    creating = product is None
    action = request.form.get("action", "")
    if action.startswith("library:"):  # the picker's other pages: show them, save nothing
        return _product_form(
            product, specs=_specs_of_form(), library_page=search.page_number(action[len("library:") :])
        )
    try:
        data = forms.product_data(request.form, creating=creating)
    except forms.NeedsRefresh as refresh:
        notice = (
            None
            if request.form.get("action") == "refresh"
            else _("The specs changed: check the SKU table below, then save again.")
        )
        return _product_form(product, specs=refresh.specs, notice=notice)
    except ValidationFailed as failed:
        return _product_form(product, specs=_specs_of_form(), errors=failed)
    uploads = request.files.getlist("images")
    picks = request.form.getlist("media")
    try:
        sku_uploads = forms.sku_uploads(request.files, len(data["skus"]))
        if creating:
            product = products.create(
                data, actor=principal("merchant"), uploads=uploads, picks=picks, sku_uploads=sku_uploads
            )
        else:
            products.update(
                product,
                data,
                actor=principal("merchant"),
                uploads=uploads,
                picks=picks,
                remove_image_ids=request.form.getlist("remove_image"),
                image_order=forms.image_order(request.form),
                sku_uploads=sku_uploads,
            )
    except ValidationFailed as failed:
        return _product_form(None if creating else product, specs=_specs_of_form(), errors=forms.form_errors(failed))
    flash(_("Saved."), "ok")
    return redirect(url_for("console.product_edit", product_id=product.id)), 303


def _specs_of_form():
    errors = Errors()
    specs = forms.parse_specs_text(request.form.get("specs_text", ""), errors)
    cleaned = clean_specs(specs, Errors())
    return cleaned


@bp.route("/products/new", methods=["GET", "POST"])
@staff_required
def product_new():
    if request.method == "POST":
        return _save_product()
    return _product_form()


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@staff_required
def product_edit(product_id):
    product = products.get(product_id)
    if product is None:
        abort(404)
    if request.method == "POST":
        return _save_product(product)
    return _product_form(product)


@bp.post("/products/<int:product_id>/status")
@staff_required
def product_status(product_id):
    product = products.get(product_id)
    if product is None:
        abort(404)
    target = request.form.get("status", "")
    try:
        products.set_status(product, target, actor=principal("merchant"))
    except (InvalidTransition, ValidationFailed) as problem:
        db.session.rollback()
        message = (
            next(iter(problem.errors.values()))[1]
            if isinstance(problem, ValidationFailed)
            else _("This shelf status cannot be chosen now.")
        )
        flash(message, "error")
    else:
        flash(_("On the shelf.") if target == "on_shelf" else _("Taken off the shelf."), "ok")
    listing = url_for("console.products_list")
    back = safe_target(request.form.get("back"), listing)
    return redirect(back if back.startswith(f"/s/{current_store().slug}/console/") else listing), 303


@bp.get("/media/<path:name>")
@staff_required
def catalog_media(name):
    relative = f"uploads/stores/{current_store().id}/{name}"
    path = absolute_path(relative) if media_name(relative) == name else None
    if path is None:
        abort(404)
    return send_file(path, max_age=3600)


# -- categories -------------------------------------------------------------------------------


@bp.route("/categories", methods=["GET", "POST"])
@staff_required
def categories_page():
    if request.method == "POST":
        try:
            categories.create(request.form, actor=principal("merchant"))
        except ValidationFailed as failed:
            return render_form("console/catalog/categories.html", errors=failed, counts=_product_counts(), **_common())
        flash(_("Category added."), "ok")
        return redirect(url_for("console.categories_page")), 303
    return render_form("console/catalog/categories.html", counts=_product_counts(), **_common())


def _product_counts() -> dict[int, int]:
    return dict(
        db.session.execute(
            sa.select(Product.category_id, sa.func.count(Product.id))
            .where(Product.category_id.is_not(None))
            .group_by(Product.category_id)
        ).all()
    )


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@staff_required
def category_edit(category_id):
    category = categories.get(category_id)
    if category is None:
        abort(404)
    if request.method == "POST":
        try:
            data = request.form.to_dict()
            data["active"] = "active" in request.form  # an unticked checkbox sends nothing
            categories.update(category, data, actor=principal("merchant"))
        except ValidationFailed as failed:
            db.session.rollback()
            return render_form("console/catalog/category_form.html", errors=failed, category=category, **_common())
        flash(_("Saved."), "ok")
        return redirect(url_for("console.categories_page")), 303
    return render_form("console/catalog/category_form.html", category=category, **_common())


@bp.post("/categories/<int:category_id>/delete")
@staff_required
def category_delete(category_id):
    category = categories.get(category_id)
    if category is None:
        abort(404)
    try:
        categories.delete(category, actor=principal("merchant"))
    except ValidationFailed as failed:
        return render_form("console/catalog/categories.html", errors=failed, counts=_product_counts(), **_common())
    flash(_("Category deleted."), "ok")
    return redirect(url_for("console.categories_page")), 303


# -- bulk edit and low stock ------------------------------------------------------------------


def _bulk_skus(q: str):
    query = (
        sa.select(Sku, Product)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.active.is_(True))
        .order_by(Product.sort.desc(), Product.id.desc(), Sku.id)
    )
    for word in search.keywords(q):
        query = query.where(Product.search_text.contains(word, autoescape=True))
    return db.session.execute(query.limit(BULK_PAGE)).all()


@bp.route("/skus/bulk", methods=["GET", "POST"])
@staff_required
def bulk_edit():
    q = (request.values.get("q") or "")[: search.MAX_QUERY]
    rows = _bulk_skus(q)
    if request.method == "POST":
        where = {}
        try:
            items, where = forms.bulk_items(request.form, [sku for sku, _product in rows])
            if not items:
                flash(_("Nothing changed."), "ok")
                return redirect(url_for("console.bulk_edit", q=q or None)), 303
            sku_bulk_edit.bulk_update_skus(items, actor=principal("merchant"))
        except ValidationFailed as failed:
            db.session.rollback()
            return render_form(
                "console/catalog/bulk.html",
                errors=forms.bulk_errors(failed, where),
                rows=_bulk_skus(q),
                q=q,
                posted=True,
                **_common(),
            )
        flash(_("%(count)s SKUs updated.", count=len(items)), "ok")
        return redirect(url_for("console.bulk_edit", q=q or None)), 303
    return render_form("console/catalog/bulk.html", rows=rows, q=q, posted=False, **_common())


@bp.get("/skus/low-stock")
@staff_required
def low_stock():
    threshold, rows = stock.low_stock()
    return render_template(
        "console/catalog/low_stock.html", threshold=threshold, rows=rows, spec_label=spec_label, **_common()
    )
