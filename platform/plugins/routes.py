"""Where a plugin's blueprints are mounted: the URL of each area, and the app's endpoint for an
endpoint as the plugin named it (``app.extensions["mallow.plugin_routes"]``, filled in by
:mod:`mallow.plugin_host.loader` when it mounts a plugin's routes)."""

from __future__ import annotations

from flask import current_app

#: the URL prefix of each area a plugin may mount a blueprint in
AREAS = {
    "storefront": "/s/<store_slug>/x/{name}",
    "console": "/s/<store_slug>/console/x/{name}",
    "store_api": "/s/<store_slug>/api/x/{name}",
    "console_api": "/s/<store_slug>/api/console/x/{name}",
}
#: areas for the store's staff only
STAFF_AREAS = ("console", "console_api")


def mounted_endpoint(name: str, endpoint: str) -> str | None:
    """The app's endpoint for ``endpoint`` (``<blueprint>.<view>`` as the plugin named it)."""
    blueprint, _, view = endpoint.rpartition(".")
    for mounted, (plugin, _area, original) in current_app.extensions.get("mallow.plugin_routes", {}).items():
        if plugin == name and original == blueprint:
            candidate = f"{mounted}.{view}"
            if candidate in current_app.view_functions:
                return candidate
    return endpoint if endpoint in current_app.view_functions else None
