"""Block types and the app's block registry: every block type a page may contain, with its settings schema.

A *block* is one thing on a page (a carousel, a product grid…); its *block type* says which
settings it takes (a JSON Schema object, checked on every save), which child blocks it may hold
(the slides of a carousel) and which template draws it (``blocks/<type>.html`` in the active
theme, else in the default theme, else in the folder the type was registered with).

:func:`block_type` only *declares* a type (checks it and returns it). Each app has its own
:class:`BlockTypes` registry (``app.extensions["mallow.block_types"]``, :func:`types_of`):
``mallow.builder.init_app`` fills it with the built-in types of :mod:`mallow.builder.library`, and
plugins add theirs to the app they are loaded into (``mallow_register_blocks``, through
:mod:`mallow.plugin_host.blocks`, which calls :meth:`BlockTypes.register` with the same keywords)::

    register(
        "groupbuy_list", label=_l("Group buys"),
        settings={"title": text(_l("Title"), default=_l("Group buys")),
                  "count": number(_l("How many"), 1, 20, 6)},
        template_folder=Path(__file__).parent / "templates",   # holds blocks/groupbuy_list.html
        resolve=lambda block, ctx: {"groups": ...}, watches=(Campaign,))

Settings are described with the helpers below (``text``, ``number``, ``color``, ``link``…):
each gives a JSON Schema fragment plus an ``x-editor`` hint that tells the console's editor
which input to show. Titles may be lazy translations; :func:`plain` turns a schema into plain
JSON for validators and the editor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import LazyString

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
#: editor hints a setting may carry; every string setting is checked for script either way
EDITORS = (
    "text",
    "textarea",
    "richtext",
    "number",
    "color",
    "image",
    "product",
    "products",
    "category",
    "link",
    "url",
    "select",
    "checkbox",
)


@dataclass
class ChildType:
    """A kind of child block (e.g. the slides of a carousel): settings only, drawn by the parent."""

    name: str
    label: object
    settings: dict


@dataclass
class BlockType:
    name: str
    label: object  # str or lazy translation
    settings: dict  # {setting name: schema fragment from the helpers below}
    children: dict[str, ChildType] = field(default_factory=dict)
    max_children: int = 0
    #: ``resolve(block_view, ctx) -> dict`` adds data for the template (e.g. the products)
    resolve: Callable | None = None
    #: ``listings(settings) -> [mallow.catalog.search.Listing]``: the product listings ``resolve``
    #: will ask ``ctx.search_products`` for, told from the block's stored settings (defaults
    #: filled in) before any block resolves, so the products of every block of a page are loaded
    #: in one statement
    listings: Callable | None = None
    #: True when what it shows depends on the catalogue (renders are keyed by its version)
    uses_catalogue: bool = False
    #: ORM classes (a plugin's campaigns…) whose writes change what it shows: their flushes bump
    #: the same version as catalogue writes (:mod:`mallow.builder.invalidation`)
    watches: tuple = ()
    group: str = "basic"
    icon: str = "▢"
    #: a folder with ``blocks/<name>.html``, searched after the themes (plugins)
    template_folder: Path | None = None
    #: built-in types come first in the palette, in registration order
    builtin: bool = False
    #: the page kinds it may be used on (None: every kind), e.g. ``("product",)`` for a block
    #: that shows the current product
    page_kinds: tuple[str, ...] | None = None
    #: the plugin that registered it (None: Mallow's own)
    plugin: str | None = None

    def allowed_on(self, kind: str | None) -> bool:
        return kind is None or self.page_kinds is None or kind in self.page_kinds

    @property
    def template(self) -> str:
        return f"blocks/{self.name}.html"

    def settings_schema(self) -> dict:
        return object_schema(self.settings)

    def defaults(self) -> dict:
        return defaults_of(self.settings)


def block_type(
    name: str,
    *,
    label,
    settings: dict,
    children: dict[str, tuple] | None = None,
    max_children: int = 0,
    resolve: Callable | None = None,
    uses_catalogue: bool = False,
    group: str = "basic",
    icon: str = "▢",
    template_folder: Path | str | None = None,
    builtin: bool = False,
    watches: tuple = (),
    page_kinds: tuple[str, ...] | None = None,
    plugin: str | None = None,
    listings: Callable | None = None,
) -> BlockType:
    """A checked block type (registered nowhere). ``children`` maps a child type name to
    ``(label, settings)``; ``page_kinds`` limits it to those page kinds (refused on save
    elsewhere, left out of the palette there). Refuses a bad name or an unknown editor hint."""
    if not NAME_RE.match(name):
        raise ValueError(f"block type name {name!r}: lower-case letters, digits and _ (2–40)")
    for setting_name, schema in settings.items():
        _check_setting(name, setting_name, schema)
    child_types = {}
    for child_name, (child_label, child_settings) in (children or {}).items():
        if not NAME_RE.match(child_name):
            raise ValueError(f"child type name {child_name!r}")
        for setting_name, schema in child_settings.items():
            _check_setting(f"{name}.{child_name}", setting_name, schema)
        child_types[child_name] = ChildType(child_name, child_label, child_settings)
    if child_types and max_children < 1:
        raise ValueError(f"block type {name!r} has child types: give max_children")
    folder = Path(template_folder) if template_folder is not None else None
    if folder is not None and not (folder / "blocks" / f"{name}.html").is_file():
        raise ValueError(f"{folder}/blocks/{name}.html is missing")
    return BlockType(
        name,
        label,
        settings,
        child_types,
        max_children,
        resolve=resolve,
        listings=listings,
        uses_catalogue=uses_catalogue or bool(watches),
        watches=tuple(watches),
        group=group,
        icon=icon,
        template_folder=folder,
        builtin=builtin,
        page_kinds=tuple(page_kinds) if page_kinds is not None else None,
        plugin=plugin,
    )


class BlockTypes:
    """One app's block types (built-in and its plugins'), and which of them a store may use."""

    def __init__(self, builtin: tuple[BlockType, ...] = ()):
        self._types: dict[str, BlockType] = {}
        self._listeners: list[Callable[[], None]] = []
        #: ``check(name)``: may the active store use this (non-built-in) type? None: every type
        self.availability: Callable[[str], bool] | None = None
        for declared in builtin:
            self.add(declared)

    def add(self, declared: BlockType, replace: bool = False) -> BlockType:
        """Add a type; a second one of the same name only with ``replace``, so two plugins
        cannot silently take over each other's type."""
        if declared.name in self._types and not replace:
            raise ValueError(f"block type {declared.name!r} is registered already")
        self._types[declared.name] = declared
        self._changed()
        return declared

    def register(self, name: str, *, replace: bool = False, **options) -> BlockType:
        """:func:`block_type` then :meth:`add`."""
        return self.add(block_type(name, **options), replace=replace)

    def get(self, name: str) -> BlockType | None:
        return self._types.get(name)

    def all(self) -> list[BlockType]:
        """Every type: built-in ones first, in registration order."""
        return sorted(self._types.values(), key=lambda t: not t.builtin)

    def available(self, name: str) -> BlockType | None:
        """The type ``name`` when it is registered and usable in the active store."""
        found = self._types.get(name)
        if found is None or found.builtin or self.availability is None:
            return found
        return found if self.availability(name) else None

    def watches(self) -> set:
        """Every ORM class a type watches (their writes change what pages show)."""
        return {cls for found in self._types.values() for cls in found.watches}

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever a type is added or removed (theme environments reload)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


EXTENSION = "mallow.block_types"


def types_of(app=None) -> BlockTypes:
    """The block types of ``app`` (default: the current app)."""
    return (app if app is not None else current_app).extensions[EXTENSION]


# -- lookups in the current app -----------------------------------------------------------------


def get(name: str) -> BlockType | None:
    return types_of().get(name)


def block_types() -> list[BlockType]:
    """Every type of the current app: built-in ones first, in registration order."""
    return types_of().all()


def available(name: str) -> BlockType | None:
    """The type ``name`` when it is registered and usable in the active store."""
    return types_of().available(name)


def available_types() -> list[BlockType]:
    return [t for t in block_types() if available(t.name) is not None]


def _check_setting(owner: str, setting_name: str, schema: dict) -> None:
    if not re.match(r"^[a-z][a-z0-9_]{0,39}$", setting_name):
        raise ValueError(f"{owner}: setting name {setting_name!r}")
    if schema.get("x-editor") not in EDITORS:
        raise ValueError(f"{owner}.{setting_name}: x-editor must be one of {EDITORS}")


# -- schema helpers ---------------------------------------------------------------------------


def object_schema(settings: dict) -> dict:
    return {"type": "object", "properties": settings, "additionalProperties": False}


def defaults_of(settings: dict) -> dict:
    return {name: plain(schema.get("default")) for name, schema in settings.items()}


def plain(value):
    """A schema (or value) with lazy translations turned into text of the current locale."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def text(title, *, max_length: int = 60, default="", multiline: bool = False) -> dict:
    return {
        "type": "string",
        "maxLength": max_length,
        "default": default,
        "title": title,
        "x-editor": "textarea" if multiline else "text",
    }


def richtext(title, *, max_length: int = 20_000, default="") -> dict:
    """HTML: refused when it carries script, then reduced to the catalogue's allow-list (nh3)."""
    return {"type": "string", "maxLength": max_length, "default": default, "title": title, "x-editor": "richtext"}


def number(title, minimum: int, maximum: int, default: int) -> dict:
    return {
        "type": "integer",
        "minimum": minimum,
        "maximum": maximum,
        "default": default,
        "title": title,
        "x-editor": "number",
    }


def color(title, default: str) -> dict:
    return {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "default": default, "title": title, "x-editor": "color"}


def checkbox(title, default: bool = False) -> dict:
    return {"type": "boolean", "default": default, "title": title, "x-editor": "checkbox"}


def choice(title, options: list[tuple[str, object]], default: str) -> dict:
    """One of ``options`` (``[(value, label), …]``)."""
    return {
        "type": "string",
        "enum": [value for value, _label in options],
        "default": default,
        "title": title,
        "x-editor": "select",
        "x-labels": {value: label for value, label in options},
    }


def link(title, default: str = "") -> dict:
    """http(s) URL, a path inside the store (``/search``) or a mini-program page path."""
    return {"type": "string", "maxLength": 500, "default": default, "title": title, "x-editor": "link"}


def video_url(title) -> dict:
    """An https address of a video file (played by the browser's own player)."""
    return {"type": "string", "maxLength": 500, "default": "", "title": title, "x-editor": "url"}


def image(title) -> dict:
    """The id of an image of the store's media library, or null."""
    return {"type": ["integer", "null"], "minimum": 1, "default": None, "title": title, "x-editor": "image"}


def product(title) -> dict:
    return {"type": ["integer", "null"], "minimum": 1, "default": None, "title": title, "x-editor": "product"}


def products(title, max_items: int = 20) -> dict:
    return {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "maxItems": max_items,
        "uniqueItems": True,
        "default": [],
        "title": title,
        "x-editor": "products",
    }


def category(title) -> dict:
    return {"type": ["integer", "null"], "minimum": 1, "default": None, "title": title, "x-editor": "category"}


def is_lazy(value) -> bool:
    return isinstance(value, LazyString)
