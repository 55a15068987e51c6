"""The platform admin's plugin review: ``/admin/plugins`` lists every recorded release with each
plugin's state now (loaded, changed since review, failed to import…); ``/admin/plugins/<id>``
is a release's review (manifest, permissions, every file with its hash and source, what changed,
the inspection's findings) with approve / reject / withdraw and a reason. Part of the admin area
(:data:`mallow.web.blueprints.admin`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import admin_required, principal
from mallow.db import db
from mallow.plugin_host import marketplace, review
from mallow.plugin_host.discovery import mallow_version
from mallow.plugin_host.models import PluginRelease
from mallow.plugin_host.status import plugin_states
from mallow.plugins.manifests import localized, permission_label
from mallow.statemachine import InvalidTransition
from mallow.validation import ValidationFailed
from mallow.web import blueprints

bp = blueprints.admin


@bp.get("/plugins")
@admin_required
def plugin_releases():
    status = request.args.get("status") or None
    if status and status not in marketplace.STATUSES:
        abort(400)
    return render_template(
        "admin/plugins.html",
        releases=marketplace.releases(status),
        status=status,
        installed=marketplace.installed_versions(),
        loaded=marketplace.loaded_versions(),
        too_new=marketplace.needing_newer_mallow(),
        states=plugin_states(),
        mallow_version=mallow_version(),
        localized=localized,
        permission_label=permission_label,
    )


@bp.get("/plugins/<int:release_id>")
@admin_required
def plugin_release(release_id):
    release = db.get_or_404(PluginRelease, release_id)
    state = plugin_states().get(release.name)
    return render_template(
        "admin/plugin_release.html",
        page=review.page(release),
        state=state if state is not None and state.version == release.version else None,
        localized=localized,
        permission_label=permission_label,
    )


@bp.post("/plugins/<int:release_id>/<any(approve, reject, withdraw):action>")
@admin_required
def decide_plugin_release(release_id, action):
    release = db.get_or_404(PluginRelease, release_id)
    decide = {"approve": marketplace.approve, "reject": marketplace.reject, "withdraw": marketplace.withdraw}[action]
    try:
        if action == "approve":
            marketplace.approve(release, principal("admin"), request.form.get("reason", ""), _shown())
        else:
            decide(release, principal("admin"), request.form.get("reason", ""))
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    except marketplace.FilesMoved:
        flash(_("The plugin's files changed while you were reviewing them: read them again."), "error")
    except InvalidTransition:
        flash(_("This release was decided already."), "error")
    else:
        names = {"name": release.name, "version": release.version}
        if action == "approve":
            flash(_("%(name)s %(version)s approved: it is loaded when Mallow next starts.", **names), "ok")
        elif action == "reject":
            flash(_("%(name)s %(version)s rejected.", **names), "ok")
        else:
            flash(
                _(
                    "%(name)s %(version)s withdrawn: switched off in every store now, not loaded from the next start.",
                    **names,
                ),
                "ok",
            )
    if request.form.get("back") == "release":
        return redirect(url_for("admin.plugin_release", release_id=release.id)), 303
    return redirect(url_for("admin.plugin_releases", status=request.args.get("status") or None)), 303


def _shown() -> str | None:
    """The digest of the files the review page showed (its approve form carries it)."""
    value = (request.form.get("files_digest") or "").strip()
    return value[:64] or None
