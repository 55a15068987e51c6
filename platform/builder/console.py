"""The page editor in the merchant console (``/s/<slug>/console/pages``): staff of the store.

Pages are server-rendered; the editor itself is plain JavaScript (``static/builder/editor.js``,
no build step, CSP ``script-src 'self'``) talking JSON to the routes below with the browser
session and the CSRF token in the ``X-CSRFToken`` header. They call the same service functions as
the bearer-token API in :mod:`mallow.builder.api`. Everything the script needs (page, block
types with their settings fields, themes, texts in the page's language) is embedded once as
JSON, escaped for a ``<script>`` element (see :func:`json_for_script`).
"""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from mallow.accounts.guards import principal, staff_required
from mallow.builder import blocks, current, service
from mallow.builder.render import fill_late, render_document, stylesheet_urls
from mallow.builder.themes import theme_set
from mallow.catalog.search import Page as Paging
from mallow.media import library
from mallow.catalog.search import page_number
from mallow.media.console_views import in_use_message
from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.ids import id_value
from markupsafe import Markup

MEDIA_PER_PAGE = 60
bp = Blueprint("page_editor", __name__, url_prefix=store_url_prefix("/console/pages"))
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027", "\u2028": "\\u2028",
                   "\u2029": "\\u2029"}


def json_for_script(data) -> Markup:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&``, ``'`` and
    U+2028/U+2029 are written as ``\\u`` escapes, so ``</script>`` in any text cannot end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup("".join(_SCRIPT_ESCAPES.get(ch, ch) for ch in text))


def fields_of(settings: dict) -> list[dict]:
    """The editor's form for a settings schema (labels in the request's language)."""
    fields = []
    for name, schema in blocks.plain(settings).items():
        field = {"name": name, "label": schema.get("title") or name, "editor": schema["x-editor"],
                 "default": schema.get("default")}
        for key in ("minimum", "maximum", "maxLength", "maxItems"):
            if key in schema:
                field[key] = schema[key]
        if "enum" in schema:
            labels = schema.get("x-labels", {})
            field["options"] = [{"value": v, "label": labels.get(v, v)} for v in schema["enum"]]
        fields.append(field)
    return fields


def block_types_json(kind: str) -> list[dict]:
    """The palette: the types the store may use on a page of ``kind``."""
    return [{"type": t.name, "label": str(t.label), "icon": t.icon, "group": t.group, "fields": fields_of(t.settings),
             "defaults": t.defaults(), "max_children": t.max_children,
             "children": [{"type": c.name, "label": str(c.label), "fields": fields_of(c.settings),
                           "defaults": blocks.defaults_of(c.settings)} for c in t.children.values()]}
            for t in blocks.available_types() if t.allowed_on(kind)]


def _texts() -> dict:
    return {
        "saved": _("All changes saved"), "saving": _("Saving…"), "unsaved": _("Unsaved changes"),
        "errors": _("Fix the marked fields: the draft was not saved."), "conflict": _(
            "The draft was changed elsewhere: reload the page."), "published": _("Published version %(n)s."),
        "rolled_back": _("Version %(n)s is live again."), "confirm_rollback": _("Make version %(n)s live again?"),
        "move_up": _("Move up"), "move_down": _("Move down"), "remove": _("Remove"), "add": _("Add"),
        "add_item": _("Add an item"), "drop_here": _("Drop a block here"), "empty": _(
            "Drag a block from the left, or press its Add button."), "choose_image": _("Choose image"),
        "no_image": _("No image"), "choose_product": _("Choose product"), "no_product": _("No product"),
        "choose": _("Choose"), "search": _("Search"), "upload": _("Upload"), "close": _("Close"),
        "delete": _("Delete"), "in_use": _("In use"), "none_selected": _("Select a block in the preview to edit it."),
        "live": _("Live"), "preview": _("Preview"), "rollback": _("Roll back to this"), "version": _("Version %(n)s"),
        "no_versions": _("Not published yet."), "link_hint": _(
            "https://…, a path in your store such as /search, or a mini-program page path"),
        "failed": _("Something went wrong. Try again."), "theme_saved": _("Theme saved."), "theme_errors": _(
            "Fix the marked theme settings: the theme was not saved."), "item": _("Item %(n)s"),
        "clear": _("Clear"), "uploading": _("Uploading…"), "previous": _("Previous"), "next": _("Next"),
        "page_of": _("Page %(page)s of %(pages)s"), "pages": _("Pages"),
    }


def _links() -> list[dict]:
    from mallow.catalog import categories

    links = [{"value": "/", "label": _("Home")}, {"value": "/search", "label": _("All products")}]
    for category, depth in categories.tree(active_only=True)[:50]:
        links.append({"value": f"/category/{category.id}", "label": "· " * depth + category.name})
    for page in service.pages():
        if page.kind == "landing":
            links.append({"value": f"/p/{page.slug}", "label": page.title})
    return links


def _json_errors(failed: ValidationFailed, status: int = 422):
    return jsonify(failed.as_json()), status


# -- pages ------------------------------------------------------------------------------------

@bp.get("/")
@staff_required
def index():
    name, _settings = service.current_theme()
    return render_template("console/pages/index.html", pages=service.pages(), page_url=service.page_url,
                           theme=theme_set().get(name))


@bp.post("/new")
@staff_required
def new_page():
    try:
        page = service.create_landing(request.form, actor=principal("merchant"))
    except ValidationFailed as failed:
        name, _settings = service.current_theme()
        return render_form("console/pages/index.html", errors=failed, pages=service.pages(),
                           page_url=service.page_url, theme=theme_set().get(name))
    return redirect(url_for("page_editor.edit", page_id=page.id)), 303


def _page(page_id: int):
    page = service.get_page(page_id)
    if page is None:
        abort(404)
    return page


@bp.get("/<int:page_id>/edit")
@staff_required
def edit(page_id):
    page = _page(page_id)
    from mallow.catalog import categories

    theme_name, theme_settings = service.current_theme()
    themes = theme_set()
    saved = service.saved_theme_settings()
    data = {
        "page": service.page_json(page),
        "types": block_types_json(page.kind),
        "theme": {"name": theme_name, "settings": theme_settings},
        "themes": [{"name": t.name, "title": t.title, "fields": t.editor_fields(), "defaults": t.defaults(),
                    "saved": saved[t.name]} for t in themes.themes.values()],
        "categories": [{"id": c.id, "name": "· " * d + c.name} for c, d in categories.tree()],
        "links": _links(),
        "urls": {"save": url_for(".save_draft", page_id=page.id), "preview": url_for(".preview", page_id=page.id),
                 "publish": url_for(".publish", page_id=page.id), "versions": url_for(".versions", page_id=page.id),
                 "rollback": url_for(".rollback", page_id=page.id), "media": url_for(".media"),
                 "products": url_for(".products"), "theme": url_for(".theme"),
                 "version_preview": url_for(".version_preview", page_id=page.id, version_id=0),
                 "live": service.page_url(page)},
        "text": _texts(),
        "csrf": generate_csrf(),
    }
    stylesheets = list(dict.fromkeys(url for t in themes.themes.values() for url in stylesheet_urls(t)))
    return render_template("console/pages/editor.html", page=page, editor_data=json_for_script(data),
                           stylesheets=stylesheets)


@bp.post("/<int:page_id>/draft")
@staff_required
def save_draft(page_id):
    page = _page(page_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "document" not in body:
        return jsonify(error="bad_request", message=_("Send a JSON object body.")), 400
    revision = body.get("revision") if isinstance(body.get("revision"), int) else None
    try:
        service.save_draft(page, body["document"], revision=revision, title=body.get("title"))
    except ValidationFailed as failed:
        return _json_errors(failed)
    except service.StaleDraft as stale:
        return jsonify(error="conflict", message=_texts()["conflict"], current_revision=stale.current), 409
    return jsonify(service.page_json(page))


@bp.post("/<int:page_id>/preview")
@staff_required
def preview(page_id):
    """Render an unsaved document (and optionally another theme) for the editor's preview."""
    from mallow.builder import validation

    page = _page(page_id)
    body = request.get_json(silent=True) or {}
    try:
        document = validation.validate_document(body.get("document", page.draft), references=service.references,
                                                kind=page.kind)
        name, settings = service.current_theme()
        if body.get("theme") is not None:
            name, settings = service.check_theme(body.get("theme"), body.get("theme_settings"))
    except ValidationFailed as failed:
        return _json_errors(failed)
    theme = theme_set().get(name)
    subject = current.sample(page.kind)
    rendered = render_document(document, kind=page.kind, theme=theme, theme_settings=settings, store=current_store(),
                               title=page.title, preview=True, subject=subject)
    style, classes = theme.css(settings)
    parts = subject.late_parts(theme) if subject is not None else {}
    return jsonify(blocks=[{"id": i, "type": t, "html": str(fill_late(h, parts))} for i, t, h in rendered.blocks],
                   theme=theme.name, style=style, classes=classes, stylesheets=stylesheet_urls(theme),
                   sample=_sample_json(subject))


def _sample_json(subject) -> dict | None:
    """Which product or category the preview shows (the templates need one)."""
    if subject is None:
        return None
    return {"kind": subject.kind, "title": subject.title,
            "text": _("Previewed with: %(name)s", name=subject.title)}


@bp.post("/<int:page_id>/publish")
@staff_required
def publish(page_id):
    page = _page(page_id)
    try:
        published = service.publish(page, actor=principal("merchant"))
    except ValidationFailed as failed:
        return _json_errors(failed)
    return jsonify(version=service.version_json(published, page), page=service.page_json(page, with_document=False))


@bp.post("/<int:page_id>/unpublish")
@staff_required
def unpublish(page_id):
    """From the page list: shoppers stop seeing the page (draft and versions are kept)."""
    page = _page(page_id)
    if page.published_version_id is not None:
        service.unpublish(page, actor=principal("merchant"))
        flash(_("The page is off the storefront; its draft and versions are kept."), "ok")
    return redirect(url_for(".index")), 303


@bp.get("/<int:page_id>/versions")
@staff_required
def versions(page_id):
    page = _page(page_id)
    return jsonify(items=[service.version_json(v, page) for v in service.versions(page)])


@bp.post("/<int:page_id>/rollback")
@staff_required
def rollback(page_id):
    page = _page(page_id)
    body = request.get_json(silent=True) or {}
    target = service.version(page, body.get("version_id"))
    if target is None:
        abort(404)
    service.rollback(page, target, actor=principal("merchant"))
    return jsonify(version=service.version_json(target, page), page=service.page_json(page))


@bp.get("/<int:page_id>/versions/<int:version_id>")
@staff_required
def version_preview(page_id, version_id):
    """A kept version as shoppers would see it (never cached, never public)."""
    page = _page(page_id)
    target = service.version(page, version_id)
    if target is None:
        abort(404)
    name, settings = service.current_theme()
    theme = theme_set().get(name)
    subject = current.sample(page.kind)
    rendered = render_document(target.document, kind=page.kind, theme=theme, theme_settings=settings,
                               store=current_store(), title=target.title, preview=True, subject=subject)
    return render_template("storefront/built_page.html", page_html=current.fill(rendered.html, subject, theme),
                           stylesheets=stylesheet_urls(theme), page_title=target.title, preview_of=target)


# -- theme, media, products -------------------------------------------------------------------

@bp.post("/theme")
@staff_required
def theme():
    body = request.get_json(silent=True) or {}
    try:
        name, settings = service.save_theme(body.get("theme"), body.get("settings"), actor=principal("merchant"))
    except ValidationFailed as failed:
        return _json_errors(failed)
    return jsonify(theme=name, settings=settings)


@bp.route("/media", methods=["GET", "POST"])
@staff_required
def media():
    """The picker's page of the library (``?page=``, newest first, ``MEDIA_PER_PAGE`` a page), or an upload."""
    if request.method == "POST":
        try:
            asset = library.upload(request.files.get("image"), actor=principal("merchant"))
        except ValidationFailed as failed:
            return _json_errors(failed)
        return jsonify(library.asset_json(asset, 0)), 201
    number = page_number(request.args.get("page"))
    total, rows = library.assets(number, per_page=MEDIA_PER_PAGE)
    paging = Paging(rows, total, number, MEDIA_PER_PAGE, {})
    uses = library.usage(rows)
    return jsonify(items=[library.asset_json(a, uses.get(a.id, 0)) for a in rows], total=total,
                   page=paging.page, pages=paging.pages)


@bp.post("/media/<int:media_id>/delete")
@staff_required
def delete_media(media_id):
    asset = library.get(media_id)
    if asset is None:
        abort(404)
    try:
        library.delete(asset, actor=principal("merchant"))
    except library.InUse as in_use:
        return jsonify(error="in_use", message=in_use_message(in_use), uses=in_use.count), 409
    return jsonify(ok=True)


@bp.get("/products")
@staff_required
def products():
    """Products for the product picker (any shelf status; the storefront shows on-shelf ones)."""
    from mallow.catalog import search

    ids = [i for i in map(id_value, request.args.get("ids", "").split(",")) if i is not None][:50]
    if ids:
        from mallow.catalog import products as catalogue

        found = [catalogue.get(i) for i in ids]
        items = [p for p in found if p is not None]
        return jsonify(items=[_product_json(p, catalogue.min_price(p)) for p in items])
    try:
        query = search.parse_query({"q": request.args.get("q", ""), "per_page": "20"}, console=True)
    except ValidationFailed as failed:
        return _json_errors(failed, 400)
    page = search.search(query, shopper=False)
    return jsonify(items=[_product_json(p, page.min_prices.get(p.id)) for p in page.items])


def _product_json(product, price) -> dict:
    from mallow.builder.render import product_view

    view = product_view(product, price)
    return {"id": product.id, "title": product.title, "status": product.status, "price": view["price"],
            "image": view["image"]["src"] if view["image"] else None}
