"""店铺设置 → 数据导出 (``/s/<slug>/console/export``): the store's owner exports the whole store
as an archive (:mod:`mallow.stores.archive.merchant_exports`), sees its progress (the page
refreshes itself while a job runs, no script) and downloads it while it has not expired.

Owner only, like the team and the qualification pages: the archive holds every shopper's data.
An export of another store is not found here (404): exports are looked up under this store only.
"""

from __future__ import annotations

from flask import abort, redirect, request, send_file, url_for

from mallow.accounts.guards import principal, staff_required
from mallow.db import db
from mallow.stores.archive import merchant_exports
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import render_form
from mallow.web.blueprints import console as bp


def _page(status: int = 200, errors: ValidationFailed | None = None):
    exports = merchant_exports.listed(current_store().id)
    running = any(e.status in ("queued", "running") for e in exports)
    return render_form(
        "console/store_export.html",
        status=status,
        errors=errors,
        exports=exports,
        running=running,
        keep_hours=merchant_exports.KEEP_HOURS,
    )


@bp.route("/export", methods=["GET", "POST"])
@staff_required(owner=True)
def store_export():
    if request.method == "POST":
        try:
            merchant_exports.start(current_store(), principal("merchant"), request.form)
        except ValidationFailed as failed:
            return _page(errors=failed)
        db.session.commit()  # the audit entry
        return redirect(url_for("console.store_export")), 303
    return _page()


@bp.get("/export/<export_id>/download")
@staff_required(owner=True)
def store_export_download(export_id):
    store = current_store()
    try:
        path = merchant_exports.download(store.id, export_id)
    except LookupError:
        abort(404)
    response = send_file(
        path, mimetype="application/gzip", as_attachment=True, download_name=f"{store.slug}-{export_id[:8]}.tar.gz"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
