"""The page editor's pages in the merchant console (``/s/<slug>/console/pages``): staff of the store.

Only HTML lives here: the page list (with its new-page and take-off-the-storefront forms), the
editor's page and a kept version's preview. The editor itself is plain JavaScript
(``static/builder/editor.js``, no build step, CSP ``script-src 'self'``) calling the console API
operations of :mod:`mallow.api.pages` (and ``listMerchantProducts`` / ``getMerchantProduct`` for
its product picker) with the browser session and the CSRF token in the ``X-CSRFToken`` header:
one surface per operation. Everything the script needs (page, block types with their settings
fields, themes, the operations' URLs, texts in the page's language) is embedded once as JSON,
escaped for a ``<script>`` element (see :func:`mallow.web.json_for_script`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from mallow.accounts.guards import principal, staff_required
from mallow.builder import blocks, current, service
from mallow.builder.render import render_document, stylesheet_urls
from mallow.builder.themes import theme_set
from mallow.catalog import categories
from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import ValidationFailed
from mallow.web import json_for_script, render_form

bp = Blueprint("page_editor", __name__, url_prefix=store_url_prefix("/console/pages"))


def fields_of(settings: dict) -> list[dict]:
    """The editor's form for a settings schema (labels in the request's language)."""
    fields = []
    for name, schema in blocks.plain(settings).items():
        field = {
            "name": name,
            "label": schema.get("title") or name,
            "editor": schema["x-editor"],
            "default": schema.get("default"),
        }
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
    return [
        {
            "type": t.name,
            "label": str(t.label),
            "icon": t.icon,
            "group": t.group,
            "fields": fields_of(t.settings),
            "defaults": t.defaults(),
            "max_children": t.max_children,
            "children": [
                {
                    "type": c.name,
                    "label": str(c.label),
                    "fields": fields_of(c.settings),
                    "defaults": blocks.defaults_of(c.settings),
                }
                for c in t.children.values()
            ],
        }
        for t in blocks.available_types()
        if t.allowed_on(kind)
    ]


def _texts() -> dict:
    return {
        "saved": _("All changes saved"),
        "saving": _("Saving…"),
        "unsaved": _("Unsaved changes"),
        "errors": _("Fix the marked fields: the draft was not saved."),
        "conflict": _("The draft was changed elsewhere: reload the page."),
        "published": _("Published version %(n)s."),
        "rolled_back": _("Version %(n)s is live again."),
        "confirm_rollback": _("Make version %(n)s live again?"),
        "move_up": _("Move up"),
        "move_down": _("Move down"),
        "remove": _("Remove"),
        "add": _("Add"),
        "add_item": _("Add an item"),
        "drop_here": _("Drop a block here"),
        "empty": _("Drag a block from the left, or press its Add button."),
        "choose_image": _("Choose image"),
        "no_image": _("No image"),
        "choose_product": _("Choose product"),
        "no_product": _("No product"),
        "choose": _("Choose"),
        "search": _("Search"),
        "upload": _("Upload"),
        "close": _("Close"),
        "delete": _("Delete"),
        "in_use": _("In use"),
        "none_selected": _("Select a block in the preview to edit it."),
        "live": _("Live"),
        "preview": _("Preview"),
        "rollback": _("Roll back to this"),
        "version": _("Version %(n)s"),
        "no_versions": _("Not published yet."),
        "link_hint": _("https://…, a path in your store such as /search, or a mini-program page path"),
        "failed": _("Something went wrong. Try again."),
        "theme_saved": _("Theme saved."),
        "theme_errors": _("Fix the marked theme settings: the theme was not saved."),
        "item": _("Item %(n)s"),
        "clear": _("Clear"),
        "uploading": _("Uploading…"),
        "previous": _("Previous"),
        "next": _("Next"),
        "page_of": _("Page %(page)s of %(pages)s"),
        "pages": _("Pages"),
    }


def _links() -> list[dict]:
    links = [{"value": "/", "label": _("Home")}, {"value": "/search", "label": _("All products")}]
    for category, depth in categories.tree(active_only=True)[:50]:
        links.append({"value": f"/category/{category.id}", "label": "· " * depth + category.name})
    for page in service.pages():
        if page.kind == "landing":
            links.append({"value": f"/p/{page.slug}", "label": page.title})
    return links


# -- pages ------------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def index():
    name, _settings = service.current_theme()
    return render_template(
        "console/pages/index.html", pages=service.pages(), page_url=service.page_url, theme=theme_set().get(name)
    )


@bp.post("/new")
@staff_required
def new_page():
    try:
        page = service.create_landing(request.form, actor=principal("merchant"))
    except ValidationFailed as failed:
        name, _settings = service.current_theme()
        return render_form(
            "console/pages/index.html",
            errors=failed,
            pages=service.pages(),
            page_url=service.page_url,
            theme=theme_set().get(name),
        )
    return redirect(url_for("page_editor.edit", page_id=page.id)), 303


def _page(page_id: int):
    page = service.get_page(page_id)
    if page is None:
        abort(404)
    return page


def _operation_urls(page) -> dict:
    """Where the editor sends each operation (console API; ``media`` and ``products`` are also the
    prefix of one image's and one product's URL)."""
    api = {
        name: url_for(f"console_api.{operation}", page_ref=page.id)
        for name, operation in (
            ("page", "getPage"),
            ("save", "savePageDraft"),
            ("preview", "previewPage"),
            ("publish", "publishPage"),
            ("versions", "listPageVersions"),
            ("rollback", "rollbackPage"),
        )
    }
    return {
        **api,
        "media": url_for("console_api.listMedia"),
        "products": url_for("console_api.listMerchantProducts"),
        "theme": url_for("console_api.saveTheme"),
        "version_preview": url_for(".version_preview", page_id=page.id, version_id=0),
        "live": service.page_url(page),
    }


@bp.get("/<int:page_id>/edit")
@staff_required
def edit(page_id):
    page = _page(page_id)
    theme_name, theme_settings = service.current_theme()
    themes = theme_set()
    saved = service.saved_theme_settings()
    data = {
        "page": service.page_json(page),
        "types": block_types_json(page.kind),
        "theme": {"name": theme_name, "settings": theme_settings},
        "themes": [
            {
                "name": t.name,
                "title": t.title,
                "fields": t.editor_fields(),
                "defaults": t.defaults(),
                "saved": saved[t.name],
            }
            for t in themes.themes.values()
        ],
        "categories": [{"id": c.id, "name": "· " * d + c.name} for c, d in categories.tree()],
        "links": _links(),
        "urls": _operation_urls(page),
        "text": _texts(),
        "csrf": generate_csrf(),
    }
    stylesheets = list(dict.fromkeys(url for t in themes.themes.values() for url in stylesheet_urls(t)))
    return render_template(
        "console/pages/editor.html", page=page, editor_data=json_for_script(data), stylesheets=stylesheets
    )


@bp.post("/<int:page_id>/unpublish")
@staff_required
def unpublish(page_id):
    """From the page list: shoppers stop seeing the page (draft and versions are kept)."""
    page = _page(page_id)
    if page.published_version_id is not None:
        service.unpublish(page, actor=principal("merchant"))
        flash(_("The page is off the storefront; its draft and versions are kept."), "ok")
    return redirect(url_for(".index")), 303


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
    rendered = render_document(
        target.document,
        kind=page.kind,
        theme=theme,
        theme_settings=settings,
        store=current_store(),
        title=target.title,
        preview=True,
        subject=subject,
    )
    return render_template(
        "storefront/built_page.html",
        page_html=current.fill(rendered.html, subject, theme),
        stylesheets=stylesheet_urls(theme),
        page_title=target.title,
        preview_of=target,
    )
