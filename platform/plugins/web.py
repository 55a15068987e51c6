"""What plugins add to pages: storefront template slots and console menu entries.

* ``{{ template_slot("product.after_price", product=product) }}`` in a template calls
  ``mallow_template_slot`` for the plugins the store has enabled and joins their markup, in
  plugin-name order. A plain string is escaped; only ``markupsafe.Markup`` is kept as markup.
  A slot a plugin declared with ``slot_watches`` is served from this process's memory while the
  store's stamp holds (:mod:`mallow.plugins.slot_cache`).
* ``plugin_console_menu()`` gives the console's menu entries (``mallow_console_menu``) of the
  enabled plugins, each ``{"label", "url"}``.

A plugin that raises in either hook is logged and left out: the page still renders.
"""

from __future__ import annotations

import logging

from flask import Flask, url_for
from markupsafe import Markup, escape
from werkzeug.routing import BuildError

from mallow.plugins import manager, slot_cache
from mallow.plugins.routes import mounted_endpoint
from mallow.tenants.context import current_store
from mallow.tenants.views import store_view

log = logging.getLogger("mallow.plugins")


def template_slot(name: str, **context) -> Markup:
    if current_store() is None:
        return Markup("")
    parts = []
    for _plugin, result in slot_cache.answers(name, context):
        parts.append(result if isinstance(result, Markup) else escape(str(result)))
    return Markup("").join(parts)


def plugin_links(hook: str, what: str, **kwargs):
    """``(plugin, item, url)`` for each entry the enabled plugins give through ``hook`` (a list of
    ``{"label", "endpoint", "values"?…}`` or one such dict): ``endpoint`` is found where Mallow
    mounted the plugin's blueprint. Entries without a label or endpoint, or whose endpoint is not
    found, are logged (naming ``what`` they were meant to be) and left out."""
    for plugin, result in manager.each_result(hook, **kwargs):
        for item in result if isinstance(result, (list, tuple)) else [result]:
            if not isinstance(item, dict) or not item.get("label") or not item.get("endpoint"):
                log.warning("plugin %s: %s needs a label and an endpoint: %r", plugin, what, item)
                continue
            endpoint = mounted_endpoint(plugin, str(item["endpoint"]))
            try:
                url = url_for(endpoint, **(item.get("values") or {})) if endpoint else None
            except BuildError:
                url = None
            if url is None:
                log.warning("plugin %s: %s endpoint %r not found", plugin, what, item["endpoint"])
                continue
            yield plugin, item, url


def plugin_console_menu() -> list[dict]:
    store = current_store()
    if store is None:
        return []
    return [
        {"label": str(item["label"]), "url": url, "plugin": plugin}
        for plugin, item, url in plugin_links("mallow_console_menu", "a console menu entry", store=store_view(store))
    ]


def init_templates(app: Flask) -> None:
    slot_cache.init_app(app)
    app.jinja_env.globals.update(template_slot=template_slot, plugin_console_menu=plugin_console_menu)
