"""Plugins in the API: the platform's review of releases, and a store's plugins."""

from __future__ import annotations

from flask import abort, jsonify, request

from mallow.accounts.guards import admin_required, principal, staff_required
from mallow.api.registry import nullable, obj, operation, returns, schema, shape, string
from mallow.db import db
from mallow.plugin_host import marketplace, storeplugins
from mallow.plugin_host.models import PluginRelease
from mallow.tenants.context import current_store

ERR = {"$ref": "#/components/responses/ValidationFailed"}
NAME = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
SETTINGS = {"type": "object", "description": "values for the plugin's settings_schema (defaults fill the rest)"}
_TEXT, _BOOL = {"type": "string"}, {"type": "boolean"}
RELEASE = schema(
    "PluginRelease",
    shape(
        {
            "id": {"type": "integer"},
            "name": _TEXT,
            "version": _TEXT,
            "status": {"type": "string", "enum": list(marketplace.STATUSES)},
            "reason": nullable(_TEXT),
            "manifest": {"type": "object"},
            "reviewed_at": nullable(_TEXT),
            "created_at": nullable(_TEXT),
            "installed": {**_BOOL, "description": "this version is the one installed"},
            "running": {**_BOOL, "description": "this version is the one imported now"},
        }
    ),
)
STORE_PLUGIN = schema(
    "StorePlugin",
    shape(
        {
            "name": _TEXT,
            "version": _TEXT,
            "title": _TEXT,
            "author": nullable(_TEXT),
            "description": nullable(_TEXT),
            "permissions": {"type": "array", "items": shape({"code": _TEXT, "label": _TEXT})},
            "settings_schema": {"type": "object"},
            "enabled": _BOOL,
            "settings": {"type": "object"},
            "available": {
                **_BOOL,
                "description": "on, or the store may turn it on (the platform does not keep it off)",
            },
            "disabled_reason": nullable(
                {
                    "type": "string",
                    "enum": ["merchant", "platform", "circuit_breaker"],
                    "description": "why it is off: the store's owner, the platform (switched off or "
                    "withdrawn: only the platform brings it back), or the circuit breaker (it kept failing "
                    "here; the owner may turn it on again)",
                }
            ),
            "notice": nullable({**_TEXT, "description": "what the console says about it being off, in words"}),
            "store_count": {"type": "integer", "description": "how many stores have it on, platform-wide"},
            "screenshots": {"type": "array", "items": {**_TEXT, "description": "URL of a screenshot"}},
            "releases": {
                "type": "array",
                "description": "its approved and withdrawn versions, newest first (one plugin's detail only)",
                "items": shape(
                    {
                        "version": _TEXT,
                        "status": {"type": "string", "enum": ["approved", "withdrawn"]},
                        "approved_at": nullable(_TEXT),
                    }
                ),
            },
        },
        optional=("releases",),
    ),
)


def release_json(release: PluginRelease) -> dict:
    installed, loaded = marketplace.installed_versions(), marketplace.loaded_versions()
    return {
        "id": release.id,
        "name": release.name,
        "version": release.version,
        "status": release.status,
        "reason": release.reason,
        "manifest": release.manifest,
        "reviewed_at": release.reviewed_at.isoformat() if release.reviewed_at else None,
        "created_at": release.created_at.isoformat() if release.created_at else None,
        "installed": installed.get(release.name) == release.version,
        "running": loaded.get(release.name) == release.version,
    }


@operation(
    "api",
    "GET",
    "/admin/plugins/releases",
    "listPluginReleases",
    "Plugin releases recorded for review (one per plugin version), optionally by status",
    tag="plugins",
    auth="admin",
    parameters=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(marketplace.STATUSES)}}],
    responses={"200": returns("The releases", shape({"items": {"type": "array", "items": RELEASE}}))},
)
@admin_required
def list_plugin_releases():
    status = request.args.get("status") or None
    if status and status not in marketplace.STATUSES:
        abort(400, "unknown status")
    return jsonify(items=[release_json(r) for r in marketplace.releases(status)])


def _release(release_id: int) -> PluginRelease:
    return db.get_or_404(PluginRelease, release_id)


@operation(
    "api",
    "POST",
    "/admin/plugins/releases/<int:release_id>/approve",
    "approvePluginRelease",
    "Approve a plugin version: Mallow imports it at its next start",
    tag="plugins",
    auth="admin",
    body=obj({"reason": string(500)}),
    responses={"200": returns("Approved", RELEASE), "409": "Decided already"},
)
@admin_required
def approve_plugin_release(release_id):
    release = marketplace.approve(_release(release_id), principal("admin"), request.get_json().get("reason", ""))
    return jsonify(release_json(release))


@operation(
    "api",
    "POST",
    "/admin/plugins/releases/<int:release_id>/reject",
    "rejectPluginRelease",
    "Reject a plugin version with a reason for its developer",
    tag="plugins",
    auth="admin",
    body=obj({"reason": string(500)}, ["reason"]),
    responses={"200": returns("Rejected", RELEASE), "409": "Decided already", "422": ERR},
)
@admin_required
def reject_plugin_release(release_id):
    release = marketplace.reject(_release(release_id), principal("admin"), request.get_json()["reason"])
    return jsonify(release_json(release))


@operation(
    "api",
    "POST",
    "/admin/plugins/releases/<int:release_id>/withdraw",
    "withdrawPluginRelease",
    "Take an approval back: the version is no longer imported from the next start",
    tag="plugins",
    auth="admin",
    body=obj({"reason": string(500)}, ["reason"]),
    responses={"200": returns("Withdrawn", RELEASE), "409": "Not approved", "422": ERR},
)
@admin_required
def withdraw_plugin_release(release_id):
    release = marketplace.withdraw(_release(release_id), principal("admin"), request.get_json()["reason"])
    return jsonify(release_json(release))


# --- a store's plugins (console API) ---------------------------------------------------------


def _offer(name: str, history: bool = False):
    found = storeplugins.offer(current_store().id, name, history=history)
    if found is None:
        abort(404)
    return found


@operation(
    "console_api",
    "GET",
    "/plugins",
    "listStorePlugins",
    "The plugins approved on this platform, with this store's state and settings",
    tag="plugins",
    auth="merchant",
    responses={"200": returns("The plugins", shape({"items": {"type": "array", "items": STORE_PLUGIN}}))},
)
@staff_required
def list_store_plugins():
    return jsonify(items=[offer.as_json() for offer in storeplugins.offers(current_store().id)])


@operation(
    "console_api",
    "GET",
    "/plugins/<name>",
    "getStorePlugin",
    "One plugin's marketplace listing: description, screenshots, permissions, versions, how many "
    "stores use it, and this store's state of it",
    tag="plugins",
    auth="merchant",
    parameters=NAME,
    responses={"200": returns("The plugin", STORE_PLUGIN), "404": "No such plugin"},
)
@staff_required
def get_store_plugin(name):
    return jsonify(_offer(name, history=True).as_json())


@operation(
    "console_api",
    "POST",
    "/plugins/<name>/enable",
    "enableStorePlugin",
    "Turn a plugin on in this store (its tables are created or upgraded; stored settings are kept "
    "unless new ones are sent). Refused (422, field `plugin`) while the platform keeps it off; "
    "after a circuit-breaker stop it may be turned on again",
    tag="plugins",
    auth="merchant",
    body=obj({"settings": SETTINGS}),
    parameters=NAME,
    responses={"200": returns("Enabled", STORE_PLUGIN), "404": "No such plugin", "422": ERR},
)
@staff_required(owner=True)
def enable_store_plugin(name):
    _offer(name)
    settings = (request.get_json(silent=True) or {}).get("settings")
    return jsonify(storeplugins.enable(current_store(), name, principal("merchant"), settings).as_json())


@operation(
    "console_api",
    "POST",
    "/plugins/<name>/disable",
    "disableStorePlugin",
    "Turn a plugin off in this store (settings and data are kept)",
    tag="plugins",
    auth="merchant",
    parameters=NAME,
    responses={"200": returns("Disabled", STORE_PLUGIN), "404": "No such plugin"},
)
@staff_required(owner=True)
def disable_store_plugin(name):
    _offer(name)
    return jsonify(storeplugins.disable(current_store(), name, principal("merchant")).as_json())


@operation(
    "console_api",
    "PUT",
    "/plugins/<name>/settings",
    "updateStorePluginSettings",
    "Replace this store's settings of a plugin (checked against its settings schema)",
    tag="plugins",
    auth="merchant",
    body=obj({"settings": SETTINGS}, ["settings"]),
    parameters=NAME,
    responses={"200": returns("Saved", STORE_PLUGIN), "404": "No such plugin", "422": ERR},
)
@staff_required(owner=True)
def update_store_plugin_settings(name):
    _offer(name)
    settings = request.get_json()["settings"]
    return jsonify(storeplugins.update_settings(current_store(), name, principal("merchant"), settings).as_json())
