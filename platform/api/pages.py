"""Console API for pages and themes (``/s/<slug>/api/console``, staff of the store; the media
library's operations are :mod:`mallow.api.media_library`). The one surface of these operations:
integrations call them with a bearer token, the console's page editor (``static/builder/editor.js``)
with the merchant's browser session and the CSRF token in ``X-CSRFToken`` (see
:mod:`mallow.accounts.guards`)."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.api.registry import ID, nullable, obj, operation, returns, schema, shape, string
from mallow.builder import service
from mallow.builder.preview import preview
from mallow.builder.themes import theme_set

VALIDATION = {"$ref": "#/components/responses/ValidationFailed"}
PAGE_REF = {
    "name": "page_ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "a page id, or home / product / category for the store's single pages",
}
DOCUMENT = {
    "type": "object",
    "description": "the page JSON: {sections: {id: {type, settings, blocks, block_order}}, "
    "order: [id, …]} (docs/builder.md); field errors are JSON pointers",
}


_INT, _TEXT = {"type": "integer"}, {"type": "string"}
PAGE = schema(
    "Page",
    shape(
        {
            "id": _INT,
            "kind": {"type": "string", "enum": ["home", "landing", "product", "category"]},
            "slug": _TEXT,
            "title": _TEXT,
            "revision": _INT,
            "draft_saved_at": nullable(_TEXT),
            "published_version_id": nullable(_INT),
            "url": nullable(_TEXT),
            "document": {**DOCUMENT, "description": "the draft"},
        },
        optional=("document",),
    ),
)
PAGE_VERSION = schema(
    "PageVersion",
    shape(
        {
            "id": _INT,
            "number": _INT,
            "title": _TEXT,
            "created_at": _TEXT,
            "created_by": nullable(_INT),
            "live": {"type": "boolean"},
        }
    ),
)

THEME = shape({"theme": _TEXT, "settings": {"type": "object"}})
PREVIEW = shape(
    {
        "blocks": {
            "type": "array",
            "items": shape(
                {
                    "id": _TEXT,
                    "type": _TEXT,
                    "html": {**_TEXT, "description": "the block rendered by the theme (sandboxed, escaped)"},
                }
            ),
        },
        "theme": _TEXT,
        "style": {**_TEXT, "description": "CSS custom properties for the page root"},
        "classes": {**_TEXT, "description": "classes for the page root"},
        "stylesheets": {"type": "array", "items": _TEXT},
        "sample": nullable(shape({"kind": _TEXT, "title": _TEXT, "text": _TEXT})),
    }
)


def _page_or_404(page_ref):
    page = service.get_page(page_ref)
    if page is None:
        abort(404)
    return page


def _stale(stale: service.StaleDraft):
    return jsonify(
        error="conflict",
        message=_("The draft was changed elsewhere: reload it before saving."),
        current_revision=stale.current,
    ), 409


@operation(
    "console_api",
    "GET",
    "/pages",
    "listPages",
    "The store's pages (the home page and the product and category templates are always there)",
    tag="pages",
    auth="merchant",
    responses={"200": returns("The pages (without documents)", shape({"items": {"type": "array", "items": PAGE}}))},
)
@staff_required
def list_pages():
    return jsonify(items=[service.page_json(p, with_document=False) for p in service.pages()])


@operation(
    "console_api",
    "POST",
    "/pages",
    "createPage",
    "Create a landing page (微页面) at /p/<slug>",
    tag="pages",
    auth="merchant",
    body=obj({"title": string(service.TITLE_MAX), "slug": string(40)}, ["title", "slug"]),
    responses={"201": returns("The page", PAGE), "422": VALIDATION},
)
@staff_required
def create_page():
    return jsonify(service.page_json(service.create_landing(request.get_json(), actor=principal("merchant")))), 201


@operation(
    "console_api",
    "GET",
    "/pages/<page_ref>",
    "getPage",
    "A page with its draft document",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    responses={"200": returns("The page", PAGE), "404": "No such page"},
)
@staff_required
def get_page(page_ref):
    return jsonify(service.page_json(_page_or_404(page_ref)))


@operation(
    "console_api",
    "PUT",
    "/pages/<page_ref>/draft",
    "savePageDraft",
    "Validate and save the draft (never shown to shoppers until published)",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    body=obj(
        {
            "document": DOCUMENT,
            "title": string(service.TITLE_MAX),
            "revision": {
                "type": "integer",
                "description": "the revision the edit started from: an older one is refused with 409",
            },
        },
        ["document"],
    ),
    responses={
        "200": returns("The saved page", PAGE),
        "404": "No such page",
        "409": "The draft changed elsewhere (current_revision)",
        "422": VALIDATION,
    },
)
@staff_required
def save_page_draft(page_ref):
    page = _page_or_404(page_ref)
    body = request.get_json()
    try:
        service.save_draft(page, body["document"], revision=body.get("revision"), title=body.get("title"))
    except service.StaleDraft as stale:
        return _stale(stale)
    return jsonify(service.page_json(page))


@operation(
    "console_api",
    "POST",
    "/pages/<page_ref>/preview",
    "previewPage",
    "Render a document (by default the saved draft) as shoppers would see it, block by block, without "
    "saving anything; theme and theme_settings preview another theme or unsaved settings",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    body=obj({"document": DOCUMENT, "theme": nullable(string(40)), "theme_settings": nullable({"type": "object"})}),
    responses={
        "200": returns("The rendered blocks and the theme's page root", PREVIEW),
        "404": "No such page",
        "422": VALIDATION,
    },
)
@staff_required
def preview_page(page_ref):
    page = _page_or_404(page_ref)
    body = request.get_json()
    return jsonify(preview(page, body.get("document"), body.get("theme"), body.get("theme_settings")))


@operation(
    "console_api",
    "POST",
    "/pages/<page_ref>/publish",
    "publishPage",
    "Publish the saved draft as a new version",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    responses={"201": returns("The new version", PAGE_VERSION), "404": "No such page", "422": VALIDATION},
)
@staff_required
def publish_page(page_ref):
    page = _page_or_404(page_ref)
    published = service.publish(page, actor=principal("merchant"))
    return jsonify(service.version_json(published, page)), 201


@operation(
    "console_api",
    "POST",
    "/pages/<page_ref>/unpublish",
    "unpublishPage",
    "Take the page off the storefront (the home page and the templates fall back to the fixed "
    "catalogue pages, a landing page answers 404); its draft and versions are kept",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    responses={"200": returns("The page, unpublished", PAGE), "404": "No such page"},
)
@staff_required
def unpublish_page(page_ref):
    page = _page_or_404(page_ref)
    service.unpublish(page, actor=principal("merchant"))
    return jsonify(service.page_json(page, with_document=False))


@operation(
    "console_api",
    "GET",
    "/pages/<page_ref>/versions",
    "listPageVersions",
    "Published versions, newest first; live marks the one shoppers see",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    responses={
        "200": returns("The versions", shape({"items": {"type": "array", "items": PAGE_VERSION}})),
        "404": "No such page",
    },
)
@staff_required
def list_page_versions(page_ref):
    page = _page_or_404(page_ref)
    return jsonify(items=[service.version_json(v, page) for v in service.versions(page)])


@operation(
    "console_api",
    "POST",
    "/pages/<page_ref>/rollback",
    "rollbackPage",
    "Make a kept version live again (it becomes the draft too)",
    tag="pages",
    auth="merchant",
    parameters=[PAGE_REF],
    body=obj({"version_id": ID}, ["version_id"]),
    responses={"200": returns("The live version", PAGE_VERSION), "404": "No such page or version"},
)
@staff_required
def rollback_page(page_ref):
    page = _page_or_404(page_ref)
    target = service.version(page, request.get_json()["version_id"])
    if target is None:
        abort(404)
    return jsonify(service.version_json(service.rollback(page, target, actor=principal("merchant")), page))


@operation(
    "console_api",
    "GET",
    "/theme",
    "getTheme",
    "The store's theme, its settings, and every theme there is",
    tag="pages",
    auth="merchant",
    responses={
        "200": returns(
            "The theme",
            {
                "allOf": [THEME],
                **shape(
                    {
                        "themes": {
                            "type": "array",
                            "items": shape(
                                {
                                    "name": _TEXT,
                                    "version": _TEXT,
                                    "title": _TEXT,
                                    "settings": {"type": "array", "items": {"type": "object"}},
                                }
                            ),
                        }
                    }
                ),
            },
        )
    },
)
@staff_required
def get_theme():
    name, settings = service.current_theme()
    return jsonify(
        theme=name,
        settings=settings,
        themes=[
            {"name": t.name, "version": t.version, "title": t.title, "settings": t.editor_fields()}
            for t in theme_set().themes.values()
        ],
    )


@operation(
    "console_api",
    "PUT",
    "/theme",
    "saveTheme",
    "Switch the theme and set its settings",
    tag="pages",
    auth="merchant",
    body=obj({"theme": string(40), "settings": {"type": "object"}}, ["theme"]),
    responses={"200": returns("Saved", THEME), "422": VALIDATION},
)
@staff_required
def save_theme():
    body = request.get_json()
    name, settings = service.save_theme(body["theme"], body.get("settings"), actor=principal("merchant"))
    return jsonify(theme=name, settings=settings)
