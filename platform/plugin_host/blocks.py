"""Page-builder block types that plugins register (``mallow_register_blocks``).

The plugin calls ``register(type_name, label=…, settings=…, template_folder=…, …)`` with the
keywords of :func:`mallow.builder.blocks.block_type`, or the short form
``register(type_name, label=…, schema=<JSON Schema object>, template="templates/blocks/<type>.html")``
(a template path relative to the plugin's package). The type goes into the block registry of
the app the plugin is loaded into (:func:`mallow.builder.blocks.types_of`), which remembers the
plugin that owns it: :func:`available` tells whether a type may be used in the active store (built-in types
always, a plugin's types only where the plugin is enabled). The builder asks it before it offers
a type in the palette, accepts it in a saved page or renders it, and renders are keyed by the
store's enabled plugins and their settings (:func:`enabled_stamp`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app

from mallow.builder import blocks, cache
from mallow.plugins.acting import acting_as
from mallow.plugins.stores import enabled_plugins

EDITOR_OF_TYPE = {"boolean": "checkbox", "integer": "number", "number": "number", "string": "text"}


def _settings_from_schema(schema: dict) -> dict:
    """Builder settings (schema fragments with an ``x-editor``) from a plain JSON Schema object."""
    settings = {}
    for key, spec in (schema.get("properties") or {}).items():
        spec = dict(spec)
        if "x-editor" not in spec:
            spec["x-editor"] = "select" if "enum" in spec else EDITOR_OF_TYPE.get(spec.get("type"), "text")
        settings[key] = spec
    return settings


def _template_folder(module, type_name: str, template: str) -> Path:
    path = Path(template)
    if not path.is_absolute():
        path = Path(module.__file__).parent / path
    if path.name != f"{type_name}.html" or path.parent.name != "blocks":
        raise ValueError(f"block type {type_name!r}: the template must be …/blocks/{type_name}.html, not {template}")
    return path.parent.parent


def registrar(app: Flask, plugin: str, module):
    """The ``register`` callback handed to one plugin's ``mallow_register_blocks``."""
    registry = blocks.types_of(app)
    owners: dict[str, str] = app.extensions.setdefault("mallow.plugin_blocks", {})
    registry.availability = available
    cache.add_key_part(app, enabled_stamp)

    def register(
        type_name: str,
        *,
        label,
        settings: dict | None = None,
        schema: dict | None = None,
        template: str | None = None,
        template_folder=None,
        **options,
    ):
        if settings is None:
            settings = _settings_from_schema(schema or {})
        if template is not None and template_folder is None:
            template_folder = _template_folder(module, type_name, template)
        if callable(options.get("resolve")):
            options["resolve"] = _as_plugin(plugin, options["resolve"])
        existing = registry.get(type_name)
        if existing is not None and existing.plugin != plugin:
            raise ValueError(f"plugin {plugin}: block type {type_name!r} belongs to {existing.plugin or 'Mallow'}")
        block_type = registry.register(
            type_name,
            label=label,
            settings=settings,
            template_folder=template_folder,
            replace=existing is not None,
            plugin=plugin,
            **options,
        )
        owners[type_name] = plugin
        return block_type

    return register


def _as_plugin(plugin: str, resolve: Callable) -> Callable:
    """A block's resolver runs as its plugin (:mod:`mallow.plugins.acting`): the SDK's session
    checks the plugin's permissions, and a fault is blamed on it."""

    @functools.wraps(resolve)
    def resolve_as_plugin(*args, **kwargs):
        with acting_as(plugin):
            return resolve(*args, **kwargs)

    return resolve_as_plugin


def owner(type_name: str) -> str | None:
    """The plugin that registered a block type (None: a built-in type)."""
    return current_app.extensions.get("mallow.plugin_blocks", {}).get(type_name)


def available(type_name: str) -> bool:
    """Whether a block type may be used and shown in the active store."""
    name = owner(type_name)
    return name is None or name in enabled_plugins()


def enabled_stamp() -> tuple:
    """The active store's enabled plugins with their settings, as a hashable render-key part."""
    return tuple(
        sorted(
            (name, json.dumps(settings, sort_keys=True, default=str)) for name, settings in enabled_plugins().items()
        )
    )
