"""Block HTML memo: a block template is not run again for inputs exactly equal to a render's
this process already did.

A theme's block template runs in the sandbox (:mod:`mallow.builder.themes`) over plain data
only, so what it writes is a function of what it can see: the template (its environment, its
source, the templates it includes), the block's view (settings, children, resolved data), the
page's common values (theme name and settings, ``editing``, store name and addresses, page kind
and title) and the request's translations (the sandbox's ``_``/``ngettext``). Every one of them is
in the key:

* the **template object** itself (one per theme environment; a template reload or a change of
  block types makes new ones, and clears the memo);
* the **view and the common values**, serialised by value with :mod:`pickle` through a pickler
  that accepts only ``dict``, ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool``,
  ``None``, ``bytes`` and :class:`~markupsafe.Markup` (rich text): types and order are kept
  (``1`` is not ``1.0`` nor ``True``, a ``Markup`` is not a ``str``, a key order is an order). A
  view holding anything else (an object with methods, a lazy text, a date) is not memoised;
* the **translations object** the sandbox's ``_`` reads for this request (one per language).

A template is memoised only when nothing in it (nor in a template it includes, imports or
extends by a constant name) can vary by itself: no ``random`` filter, no ``lipsum()``, no filter,
test or global but Jinja's own and the sandbox's translations, no include by a computed name. Nothing else is kept: every cold
render still reads its rows and builds every view afresh, so a changed price, title, image,
stock state, language or theme setting changes the key and shows at once. Bounded in entries and
bytes (``MALLOW_BLOCK_HTML_ENTRIES``, ``MALLOW_BLOCK_HTML_BYTES``; 0 entries turns it off), least
recently used first out; off in debug (templates reload) and in the editor's preview.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections import OrderedDict
from threading import Lock

from flask import current_app
from jinja2 import nodes
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from markupsafe import Markup

from mallow.builder import blocks
from mallow.builder.themes import _TRANSLATIONS

EXTENSION = "mallow.builder.block_html"
DEFAULT_ENTRIES = 4096
DEFAULT_BYTES = 32 * 1024 * 1024
#: Jinja's filters that give the same text for the same arguments (``random`` does not)
_PURE_FILTERS = {name: f for name, f in DEFAULT_FILTERS.items() if name != "random"}
#: the globals of a theme's environment a memoised template may use: Jinja's own but ``lipsum``
#: (random text), and the sandbox's ``_``/``gettext``/``ngettext`` (the translations are in the key)
_PURE_GLOBALS = frozenset({"range", "dict", "cycler", "joiner", "namespace", "_", "gettext", "ngettext"})


class _Refused(Exception):
    """A value the key cannot hold by value."""


class _ViewPickler(pickle.Pickler):
    """A pickler of plain data only: pickle writes the exact built-in types itself (``dict``,
    ``list``, ``tuple``, ``set``, ``frozenset``, ``str``, ``bytes``, ``bytearray``, ``int``,
    ``float``, ``bool``, ``None``: each with its own opcode, so none passes for another) and asks
    :meth:`reducer_override` about every other object: ``Markup`` (and its class) is pickled as
    usual, anything else refuses (a subclass, an object with methods, a lazy text)."""

    def reducer_override(self, obj):
        if obj is Markup or type(obj) is Markup:
            return NotImplemented
        raise _Refused(type(obj).__name__)


def value_key(value) -> bytes | None:
    """``value`` as bytes that say it exactly (type, order and all), or None when it holds
    anything but plain data."""
    buffer = io.BytesIO()
    try:
        _ViewPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(value)
    except (_Refused, pickle.PicklingError, TypeError, ValueError, RecursionError):
        return None
    return buffer.getvalue()


class BlockMemo:
    """``{key: html}``, least recently used first out, at most ``max_entries`` and about
    ``max_bytes`` (keys and texts)."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[str, int]] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()
        #: ``{template: bool}``: whether a template may be memoised (:func:`pure`)
        self.pure: dict = {}
        self.hits = 0
        self.misses = 0

    @property
    def on(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, key: tuple) -> str | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: tuple, html: str, key_bytes: int) -> None:
        size = sys.getsizeof(html) + key_bytes + 200  # the tuple, the entry and the dict's slot
        if size > self.max_bytes // 8:  # one huge block does not push out everything else
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (html, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _key, (_html, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.pure = {}

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


def block_memo() -> BlockMemo:
    """The current app's :class:`BlockMemo` (made on first use; cleared whenever block types are
    added or replaced, as the themes' environments are)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(EXTENSION)
    if found is None:
        config = app.config
        memo = BlockMemo(
            int(config.get("MALLOW_BLOCK_HTML_ENTRIES", DEFAULT_ENTRIES)),
            int(config.get("MALLOW_BLOCK_HTML_BYTES", DEFAULT_BYTES)),
        )
        found = app.extensions.setdefault(EXTENSION, memo)
        if found is memo:
            blocks.types_of(app).on_change(memo.clear)
    return found


def pure(template) -> bool:
    """Whether ``template`` writes the same text for the same inputs: checked on its source and on
    every template it includes, imports or extends (by a constant name; a computed name: not
    pure), for a filter or global that varies by itself."""
    environment = template.environment
    seen: set[str] = set()

    def check(name: str | None) -> bool:
        if name is None or environment.loader is None:
            return False
        if name in seen:
            return True
        seen.add(name)
        try:
            source, _filename, _uptodate = environment.loader.get_source(environment, name)
            tree = environment.parse(source, name)
        except Exception:  # cannot be read again: do not guess
            return False
        kinds = (nodes.Filter, nodes.Test, nodes.Name, nodes.Include, nodes.Import, nodes.FromImport)
        for node in tree.find_all(kinds):
            if isinstance(node, nodes.Filter) and environment.filters.get(node.name) is not _PURE_FILTERS.get(
                node.name
            ):
                return False  # ``random``, or a filter the environment has its own way
            if isinstance(node, nodes.Test) and environment.tests.get(node.name) is not DEFAULT_TESTS.get(node.name):
                return False
            if isinstance(node, nodes.Name) and node.name in environment.globals and node.name not in _PURE_GLOBALS:
                return False  # ``lipsum()``, or a global added later
            if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport)):
                target = node.template
                if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
                    return False
                if not check(target.value):
                    return False
        for node in tree.find_all(nodes.Extends):
            target = node.template
            if not isinstance(target, nodes.Const) or not isinstance(target.value, str) or not check(target.value):
                return False
        return True

    return check(template.name)


class PageKey:
    """What a page's blocks share in their keys (:func:`page_key`): the common values as bytes and
    the request's translations."""

    __slots__ = ("memo", "common", "translations")

    def __init__(self, memo: BlockMemo, common: bytes, translations):
        self.memo = memo
        self.common = common
        self.translations = translations


def page_key(common: dict, *, preview: bool, auto_reload: bool) -> PageKey | None:
    """The shared part of this render's block keys, or None: memo off, debug, the editor's
    preview, or common values that cannot be a key. Call inside
    :func:`mallow.builder.themes.translating`."""
    if preview or auto_reload:
        return None
    memo = block_memo()
    if not memo.on:
        return None
    translations = _TRANSLATIONS.get()
    if translations is None:
        return None
    common_key = value_key(common)
    return PageKey(memo, common_key, translations) if common_key is not None else None


def render_block(template, view: dict, common: dict, page: PageKey | None) -> str:
    """``template.render(block=view, **common)``, from the memo when this process rendered the
    template for exactly these inputs before (see the module's notes)."""
    if page is None:
        return template.render(block=view, **common)
    memo = page.memo
    allowed = memo.pure.get(template)
    if allowed is None:
        allowed = memo.pure[template] = pure(template)
    view_key = value_key(view) if allowed else None
    if view_key is None:
        return template.render(block=view, **common)
    key = (template, page.translations, page.common, view_key)
    found = memo.get(key)
    if found is None:
        found = template.render(block=view, **common)
        memo.put(key, found, len(view_key) + len(page.common))
    return found
