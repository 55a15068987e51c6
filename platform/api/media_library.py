"""Console API for the store's media library (``/s/<slug>/api/console/media``, staff of the store):
list the images with where each is used, upload one, delete one that nothing uses."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.api.registry import nullable, operation, returns, schema, shape
from mallow.catalog.search import page_number
from mallow.media import library
from mallow.media.upload_limits import STORAGE_FULL_RESPONSE
from mallow.validation import ValidationFailed

VALIDATION = {"$ref": "#/components/responses/ValidationFailed"}
_INT, _TEXT = {"type": "integer"}, {"type": "string"}

MEDIA = schema(
    "MediaAsset",
    shape(
        {
            "id": _INT,
            "name": _TEXT,
            "width": _INT,
            "height": _INT,
            "bytes": _INT,
            "url": _TEXT,
            "thumbnail_url": _TEXT,
            "created_at": _TEXT,
            "uses": _INT,
            "used_by": {
                "type": "array",
                "items": shape(
                    {"kind": _TEXT, "id": _INT, "title": _TEXT, "state": nullable(_TEXT), "number": nullable(_TEXT)}
                ),
            },
        },
        optional=("uses", "used_by"),
    ),
)

MEDIA_PER_PAGE, MEDIA_PER_PAGE_MAX = 30, 60
IN_USE = shape(
    {
        "error": {"type": "string", "enum": ["in_use"]},
        "message": _TEXT,
        "uses": _INT,
        "used_by": {"type": "array", "items": {"type": "object"}},
    }
)


@operation(
    "console_api",
    "GET",
    "/media",
    "listMedia",
    "The media library (page and product images), newest "
    "first, with where each image is used (used_by: pages and products)",
    tag="media",
    auth="merchant",
    parameters=[
        {
            "name": "page",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1},
            "description": "not a page number: the first page",
        },
        {
            "name": "per_page",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MEDIA_PER_PAGE_MAX, "default": MEDIA_PER_PAGE},
        },
    ],
    responses={
        "200": returns(
            "A page of images", shape({"items": {"type": "array", "items": MEDIA}, "total": _INT, "page": _INT})
        )
    },
)
@staff_required
def list_media():
    number = page_number(request.args.get("page"))
    per_page = request.args.get("per_page", "")
    per_page = int(per_page) if per_page.isdigit() and 0 < int(per_page) <= MEDIA_PER_PAGE_MAX else MEDIA_PER_PAGE
    total, rows = library.assets(number, per_page=per_page)
    places = library.uses(rows)
    return jsonify(items=[library.asset_json(a, places=places.get(a.id, [])) for a in rows], total=total, page=number)


@operation(
    "console_api",
    "POST",
    "/media",
    "uploadMedia",
    "Add an image (JPEG, PNG or WebP; re-encoded, with 320 and 750 px copies)",
    tag="media",
    auth="merchant",
    body_type="multipart/form-data",
    body={"type": "object", "required": ["image"], "properties": {"image": {"type": "string", "format": "binary"}}},
    responses={
        "201": returns("The image", MEDIA),
        "409": library.NOT_OPEN_RESPONSE,
        "422": VALIDATION,
        "503": library.BUSY_RESPONSE,
        "507": STORAGE_FULL_RESPONSE,
    },
)
@staff_required
def upload_media():
    file = request.files.get("image")
    if file is None:
        raise ValidationFailed({"image": ("required", _("Upload a photo or scan (JPEG, PNG or WebP)."))})
    return jsonify(library.asset_json(library.upload(file, actor=principal("merchant")), places=[])), 201


@operation(
    "console_api",
    "DELETE",
    "/media/<int:media_id>",
    "deleteMedia",
    "Delete an image that no page or product uses",
    tag="media",
    auth="merchant",
    responses={
        "204": "Deleted",
        "404": "No such image",
        "409": returns("Still in use: message names every place, used_by lists them", IN_USE),
    },
)
@staff_required
def delete_media(media_id):
    try:
        library.delete(media_id, actor=principal("merchant"))
    except library.InUse as in_use:
        return jsonify(
            error="in_use",
            message=in_use.message,
            uses=in_use.count,
            used_by=[library.use_json(u) for u in in_use.uses],
        ), 409
    return "", 204
