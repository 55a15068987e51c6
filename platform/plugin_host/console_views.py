"""The console's Plugins pages (``/s/<slug>/console/plugins``): the store's owner browses the
marketplace listing, reads a plugin's page (``…/plugins/<name>/about``: description, screenshots,
what it may touch, versions, how many stores use it) before turning it on, enables or disables it
and edits its settings (a form generated from the plugin's settings schema). Part of the console
area (:data:`mallow.web.blueprints.console`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.plugin_host import listing, storeplugins
from mallow.plugin_host import settings as settings_form
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import blueprints, render_form

bp = blueprints.console


def _offer(name: str, history: bool = False):
    found = storeplugins.offer(current_store().id, name, history=history)
    if found is None:
        abort(404)
    return found


@bp.get("/plugins")
@staff_required(owner=True)
def plugins():
    return render_template("console/plugins.html", offers=storeplugins.offers(current_store().id))


@bp.get("/plugins/<name>/about")
@staff_required(owner=True)
def plugin_about(name):
    return render_template("console/plugin_detail.html", offer=_offer(name, history=True))


@bp.get("/plugins/<name>/screenshots/<path:path>")
@staff_required
def plugin_screenshot(name, path):
    """A screenshot the plugin's manifest lists, read-only, for a plugin the platform runs."""
    found = storeplugins.offer(current_store().id, name)
    served = listing.screenshot_file(found.manifest, path) if found is not None and found.loaded else None
    if served is None:
        abort(404)
    file, content_type = served
    response = send_file(file, mimetype=content_type, max_age=86400, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def _back(name: str):
    """Where a switch goes back to: the plugin's page when it was pressed there, else the list."""
    if request.form.get("back") == "about":
        return redirect(url_for("console.plugin_about", name=name)), 303
    return redirect(url_for("console.plugins")), 303


@bp.post("/plugins/<name>/<any(enable, disable):action>")
@staff_required(owner=True)
def switch_plugin(name, action):
    found = _offer(name)
    try:
        if action == "enable":
            storeplugins.enable(current_store(), name, principal("merchant"))
            flash(_("%(title)s is on in your store.", title=found.title), "ok")
        else:
            storeplugins.disable(current_store(), name, principal("merchant"))
            flash(_("%(title)s is off. Its settings and data are kept.", title=found.title), "ok")
    except ValidationFailed as failed:
        refused = failed.errors.get("plugin")
        if refused and refused[0] in storeplugins.REFUSALS:  # the platform keeps it off: say why
            flash(str(refused[1]), "error")
            return _back(name)
        flash(_("Check the settings of %(title)s first.", title=found.title), "error")
        return redirect(url_for("console.plugin_settings", name=name)), 303
    return _back(name)


@bp.route("/plugins/<name>", methods=["GET", "POST"])
@staff_required(owner=True)
def plugin_settings(name):
    found = _offer(name)
    if not found.loaded:
        return redirect(url_for("console.plugin_about", name=name)), 303
    fields = settings_form.fields(found.manifest)
    if request.method == "POST":
        try:
            settings = settings_form.parse_form(found.manifest, request.form, found.settings)
            storeplugins.update_settings(current_store(), name, principal("merchant"), settings)
        except ValidationFailed as failed:
            errors = ValidationFailed({f"s_{key}": value for key, value in failed.errors.items()})
            return render_form("console/plugin_settings.html", errors=errors, offer=found, fields=fields, posted=True)
        flash(_("Settings saved."), "ok")
        return redirect(url_for("console.plugin_settings", name=name)), 303
    return render_form("console/plugin_settings.html", offer=found, fields=fields, posted=False)
