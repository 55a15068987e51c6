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

A block's resolver runs as its plugin (:func:`_as_plugin`). The data a block **that declared
``watches=``** resolves is kept in this process's memory (:mod:`mallow.plugins.kept_answers`, as
plugin slots are) while the store's stamp holds: per store, stamp, language, address, plugin,
block type, the block's id, resolved settings and children (a stable JSON) and the render's
subject (kind and id). The classes it watches move the stamp, so a changed campaign shows on the
next render; a resolver that calls ``fresh_for(seconds)`` (a sale that starts at T) is kept that
long at most, and a page the block lands in is capped the same way, served or called. A hit calls
nothing of the plugin and runs no statement; a resolver that raised keeps nothing; a block whose
plugin is off is not rendered at all (:func:`available`). Blocks that declared nothing are
resolved on every render. ``MALLOW_BLOCK_CACHE_ENTRIES`` (default: ``MALLOW_SLOT_CACHE_ENTRIES``,
5,000) bounds the entries per process, least recently used first out; 0 turns it off; entries
go after ``MALLOW_SLOT_CACHE_SECONDS`` (300) whatever happens.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, g
from flask_babel import LazyString

from mallow.builder import blocks, cache
from mallow.plugins.acting import acting_as
from mallow.plugins.kept_answers import KeptAnswers, call_timed, request_key, served, stamp
from mallow.plugins.stores import enabled_plugins

#: the data of plugin blocks that declared ``watches``, per app (:class:`KeptAnswers`)
DATA = "mallow.plugin_block_data"

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
    if DATA not in app.extensions:
        entries = app.config.get("MALLOW_BLOCK_CACHE_ENTRIES", app.config.get("MALLOW_SLOT_CACHE_ENTRIES", 5000))
        app.extensions[DATA] = KeptAnswers(int(entries), float(app.config.get("MALLOW_SLOT_CACHE_SECONDS", 300)))

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
            options["resolve"] = _as_plugin(plugin, options["resolve"], kept=bool(options.get("watches")))
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


def _as_plugin(plugin: str, resolve: Callable, kept: bool = False) -> Callable:
    """A block's resolver runs as its plugin (:mod:`mallow.plugins.acting`): the SDK's session
    checks the plugin's permissions, and a fault is blamed on it. ``kept``: the block declared
    what it watches, so what it resolves is kept while the store's stamp holds."""

    @functools.wraps(resolve)
    def resolve_as_plugin(*args, **kwargs):
        key = _data_key(plugin, *args) if kept and len(args) == 2 and not kwargs else None
        if key is None:
            with acting_as(plugin):
                return resolve(*args, **kwargs)
        memory = current_app.extensions[DATA]
        now = time.monotonic()
        found = memory.get(key, stamp(), now)
        if found is not None:
            return served(found, now)

        def call():
            with acting_as(plugin):
                return resolve(*args)

        data, said = call_timed(call)  # a resolver that raised keeps nothing
        memory.keep(key, data, said, time.monotonic())
        return data

    return resolve_as_plugin


def _plain(value):
    """What a block's resolved settings may hold besides JSON: texts and numbers by value."""
    if isinstance(value, (LazyString, datetime.date, decimal.Decimal)):
        return str(value)
    raise TypeError(type(value).__name__)


def _subject_key(subject) -> tuple | None:
    """``(kind, id)`` of the render's subject (the current product or category), ``()`` for
    none; None when it names no row (nothing kept)."""
    if subject is None:
        return ()
    kind = getattr(subject, "kind", None)
    row_id = getattr(getattr(subject, kind, None), "id", None) if isinstance(kind, str) else None
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        return None
    return (kind, row_id)


def _data_key(plugin: str, view, ctx) -> tuple | None:
    """The key of a block's data on this request (None: not kept): the request's store, stamp,
    language and address, the plugin, the block (type, id, resolved settings and children as a
    stable JSON) and the subject."""
    memory = current_app.extensions.get(DATA)
    if memory is None or not memory.enabled or not isinstance(view, dict):
        return None
    store = getattr(ctx, "store", None)
    if store is None or getattr(store, "id", None) != g.get("mallow_store_id"):
        return None
    subject = _subject_key(getattr(ctx, "subject", None))
    if subject is None:
        return None
    try:
        block = json.dumps(
            [view.get("type"), view.get("id"), view.get("settings"), view.get("blocks")],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=_plain,
        )
    except (TypeError, ValueError):  # something only the resolver knows how to read
        return None
    return request_key(memory, "block", plugin, subject, block)


def data_memory(app: Flask | None = None) -> KeptAnswers | None:
    """The kept data of plugin blocks (None: no plugin registered a block in ``app``)."""
    return (app or current_app).extensions.get(DATA)


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
