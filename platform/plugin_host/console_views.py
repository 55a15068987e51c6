"""The console's Plugins pages (``/s/<slug>/console/plugins``): the store's owner browses the
approved plugins, enables or disables them and edits their settings (a form generated from
each plugin's settings schema). Part of the console area (:data:`mallow.web.blueprints.console`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.plugin_host import settings as settings_form
from mallow.plugin_host import storeplugins
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import blueprints, render_form

bp = blueprints.console


def _offer(name: str):
    found = storeplugins.offer(current_store().id, name)
    if found is None:
        abort(404)
    return found


@bp.get("/plugins")
@staff_required(owner=True)
def plugins():
    return render_template("console/plugins.html", offers=storeplugins.offers(current_store().id))


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
    except ValidationFailed:
        flash(_("Check the settings of %(title)s first.", title=found.title), "error")
        return redirect(url_for("console.plugin_settings", name=name)), 303
    return redirect(url_for("console.plugins")), 303


@bp.route("/plugins/<name>", methods=["GET", "POST"])
@staff_required(owner=True)
def plugin_settings(name):
    found = _offer(name)
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
