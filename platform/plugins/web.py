"""What plugins add to pages: storefront template slots and console menu entries.

* ``{{ template_slot("product.after_price", product=product) }}`` in a template calls
  ``mallow_template_slot`` for the plugins the store has enabled and joins their markup, in
  plugin-name order. A plain string is escaped; only ``markupsafe.Markup`` is kept as markup.
* ``plugin_console_menu()`` gives the console's menu entries (``mallow_console_menu``) of the
  enabled plugins, each ``{"label", "url"}``.

A plugin that raises in either hook is logged and left out: the page still renders.
"""
from __future__ import annotations

import logging

from flask import Flask, url_for
from markupsafe import Markup, escape
from werkzeug.routing import BuildError

from mallow.plugins.manager import each_result
from mallow.tenants.context import current_store

log = logging.getLogger("mallow.plugins")


def template_slot(name: str, **context) -> Markup:
    if current_store() is None:
        return Markup("")
    parts = []
    for _plugin, result in each_result("mallow_template_slot", slot=name, context=context):
        parts.append(result if isinstance(result, Markup) else escape(str(result)))
    return Markup("").join(parts)


def plugin_console_menu() -> list[dict]:
    from mallow.plugins.loader import mounted_endpoint

    store = current_store()
    if store is None:
        return []
    entries = []
    for plugin, result in each_result("mallow_console_menu", store=store):
        for item in result if isinstance(result, (list, tuple)) else [result]:
            if not isinstance(item, dict) or not item.get("label") or not item.get("endpoint"):
                log.warning("plugin %s: a console menu entry needs a label and an endpoint: %r", plugin, item)
                continue
            endpoint = mounted_endpoint(plugin, str(item["endpoint"]))
            try:
                url = url_for(endpoint, **(item.get("values") or {})) if endpoint else None
            except BuildError:
                url = None
            if url is None:
                log.warning("plugin %s: console menu endpoint %r not found", plugin, item["endpoint"])
                continue
            entries.append({"label": str(item["label"]), "url": url, "plugin": plugin})
    return entries


def init_templates(app: Flask) -> None:
    app.jinja_env.globals.update(template_slot=template_slot, plugin_console_menu=plugin_console_menu)
