"""The console's media library page (``/s/<slug>/console/library``, staff of the store): every
image of the store newest first, with paging, upload, where each one is used, and delete.

Routes on the ``console`` blueprint (product images are library images: the product form picks
from it, :mod:`mallow.console.catalogue`). Server-rendered forms with the CSRF token, no script.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.catalog.search import Page, page_number
from mallow.db import db
from mallow.media import library
from mallow.media.upload_limits import Refused
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import console as bp

PER_PAGE = 30
MAX_FILES = 20


def use_url(use: library.Use) -> str:
    if use.kind == "product":
        return url_for("console.product_edit", product_id=use.id)
    return url_for("page_editor.edit", page_id=use.id)


def _library_page(status: int = 200, errors: ValidationFailed | None = None):
    number = page_number(request.args.get("page"))
    total, assets = library.assets(number, per_page=PER_PAGE)
    places = library.uses(assets)
    return render_form(
        "console/media.html",
        status=status,
        errors=errors,
        page=Page(assets, total, number, PER_PAGE, {}),
        assets=assets,
        places=places,
        asset_json=library.asset_json,
        use_label=library.use_label,
        use_url=use_url,
        max_files=MAX_FILES,
    )


def _upload(files) -> int:
    """Add every file to the library in one transaction: one bad file adds none."""
    files = [f for f in files if f is not None and getattr(f, "filename", None)]
    if not files:
        raise ValidationFailed({"images": ("required", _("Upload a photo or scan (JPEG, PNG or WebP)."))})
    if len(files) > MAX_FILES:
        raise ValidationFailed({"images": ("too_many", _("Upload at most %(max)s images at once.", max=MAX_FILES))})
    written: list[str] = []
    try:
        for file in files:
            try:
                asset = library.add(file, actor=principal("merchant"))
            except ValidationFailed as failed:
                code, message = next(iter(failed.errors.values()))
                raise ValidationFailed({"images": (code, message)}) from None
            written += library.files_of(asset)
        db.session.commit()
    except Exception:
        db.session.rollback()
        library.delete_files(*written)
        raise
    return len(files)


@bp.route("/library", methods=["GET", "POST"])
@staff_required
def media_library():
    if request.method == "POST":
        try:
            count = _upload(request.files.getlist("images"))
        except ValidationFailed as failed:
            return _library_page(errors=failed)
        except Refused as refused:  # a store that is not open, or every image slot busy: say so on the page
            page, _status = _library_page(errors=ValidationFailed({"images": (refused.error, refused.description)}))
            headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
            return page, refused.code, headers
        flash(_("%(count)s images added to the media library.", count=count), "ok")
        return redirect(url_for("console.media_library")), 303
    return _library_page()


@bp.post("/library/<int:media_id>/delete")
@staff_required
def media_delete(media_id):
    try:
        library.delete(media_id, actor=principal("merchant"))
    except library.InUse as in_use:
        flash(in_use.message, "error")
    else:
        flash(_("Image deleted."), "ok")
    back = request.form.get("page", "")
    return redirect(url_for("console.media_library", page=back if back.isdigit() and back != "1" else None)), 303
