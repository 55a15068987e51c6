"""Plugin slot markup kept in this process's memory while the store's stamp holds.

A product page calls every enabled plugin's ``mallow_template_slot``; each used to query its
campaigns on every request. A plugin that declares what a slot shows (:func:`slot_watches`, on
its ``mallow_template_slot``) lets Mallow keep that slot's answer per store, request stamp
(:mod:`mallow.tenants.stamps`), plugin, slot, language, address (host and scheme: the links in
it) and a key of the slot's context (:func:`context_key`), and serve it again without calling
the plugin while the stamp is the same. The classes it names join the classes whose commits move
the stamp (:func:`watched_classes`, with the classes page-builder blocks watch), so a new group
or a changed campaign shows on the next request, in every process.

Why opt-in: a slot that nothing declared may show something personal (the signed-in shopper's
entry, the cart) or rows whose writes move no stamp; such slots are called on every request as
before. A declared slot must show nothing of who is asking.

* **time**: a slot that called ``fresh_for(seconds)`` (a campaign that ends at T) is kept at most
  that long, and a page it lands in, served or rendered, is capped the same way (``fresh_for``
  keeps the page's cap in ``g.mallow_fresh_seconds``: :mod:`mallow.edge.pages`); any entry goes
  after ``MALLOW_SLOT_CACHE_SECONDS`` (default 300) whatever happens, which bounds a write a
  plugin forgot to announce;
* **size**: ``MALLOW_SLOT_CACHE_ENTRIES`` (default 5,000) per process, least recently used first
  out; 0 turns the memory off;
* **faults**: a miss calls the plugin through the guard (timing, faults, the breaker), and a
  failed call is not kept; a hit calls nothing of the plugin.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from threading import Lock

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale

from mallow.plugins import guard
from mallow.plugins.manager import hooks
from mallow.plugins.stores import enabled_plugins

EXTENSION = "mallow.slot_cache"
HOOK = "mallow_template_slot"
_MARK = "_mallow_slot_watches"
#: where :func:`mallow.edge.fresh_for` keeps how long the page being rendered stays true
_FRESH = "mallow_fresh_seconds"
#: the store's stamp read for this request by the resolver (:mod:`mallow.tenants.snapshots`)
_STAMP = "mallow_store_stamp"
_SCALARS = (str, int, bool, type(None))


def slot_watches(slot: str, *classes: type) -> Callable:
    """Decorate ``mallow_template_slot``: the slot ``slot`` shows rows of ``classes`` (the
    plugin's models) and nothing personal, so Mallow may keep its markup until a commit changes
    one of them (or the catalogue, the store's pages or the plugin's settings). Stack one per
    slot; a slot not declared is called on every request."""

    def mark(function: Callable) -> Callable:
        declared = dict(getattr(function, _MARK, {}))
        declared[slot] = (*declared.get(slot, ()), *classes)
        setattr(function, _MARK, declared)
        return function

    return mark


def declared(function: Callable) -> dict[str, tuple]:
    """``{slot: classes}`` a slot implementation declared with :func:`slot_watches`."""
    return getattr(function, _MARK, {})


def watched_classes() -> tuple:
    """Every class a loaded plugin's slot shows (the stamps ask at each flush, next to the
    classes the page builder's blocks watch)."""
    manager = current_app.extensions.get("mallow.plugins")
    if manager is None:
        return ()
    found: dict[type, None] = {}
    for impl in manager.hook.mallow_template_slot.get_hookimpls():
        for classes in declared(impl.function).values():
            found.update(dict.fromkeys(classes))
    return tuple(found)


# --- the key of a slot's context ------------------------------------------------------------

_NOT_KEPT = object()


def _value_key(value) -> Hashable:
    if isinstance(value, _SCALARS):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        found = value.get("id", _NOT_KEPT)
    elif isinstance(value, (list, tuple)):
        parts = tuple(_value_key(item) for item in value)
        return _NOT_KEPT if _NOT_KEPT in parts else ("seq", parts)
    else:
        found = getattr(value, "id", _NOT_KEPT)
    if isinstance(found, (str, int)) and not isinstance(found, bool):
        return ("id", type(value).__name__, found)
    return _NOT_KEPT


def context_key(context: dict) -> tuple | None:
    """A key of ``context`` (None: not kept). A value counts by its ``id`` (an attribute, or a
    dict's key: the rows a slot shows are the same while the stamp holds), by value for a str,
    int, bool or None, or element by element for a list or tuple; anything else is not kept."""
    parts = []
    for name in sorted(context):
        key = _value_key(context[name])
        if key is _NOT_KEPT:
            return None
        parts.append((name, key))
    return tuple(parts)


# --- the memory ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    stamp: object
    expires: float  # time.monotonic()
    answer: object  # the plugin's answer (None: it added nothing)
    limited: bool  # the plugin said how long (fresh_for): pages it lands in are capped too


class SlotMemory:
    def __init__(self, max_entries: int, seconds: float):
        self.max_entries, self.seconds = max_entries, seconds
        self._entries: OrderedDict[tuple, Kept] = OrderedDict()
        self._lock = Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.seconds > 0

    def get(self, key: tuple, stamp) -> Kept | None:
        with self._lock:
            kept = self._entries.get(key)
            if kept is None or kept.stamp != stamp or kept.expires <= time.monotonic():
                if kept is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return kept

    def put(self, key: tuple, kept: Kept) -> None:
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def memory(app: Flask | None = None) -> SlotMemory:
    return (app or current_app).extensions[EXTENSION]


def _cap_page(seconds: float | None) -> None:
    if seconds is not None:
        current = g.get(_FRESH)
        setattr(g, _FRESH, seconds if current is None else min(current, seconds))


def _call(impl, slot: str, context: dict) -> tuple[object, float | None]:
    """The plugin's answer through the guard, and the seconds it gave with ``fresh_for``
    during the call (None: it said nothing); the page keeps the shortest cap either way."""
    before = g.pop(_FRESH, None)
    try:
        answer = guard.call(impl, HOOK, {"slot": slot, "context": context})
    finally:
        said = g.pop(_FRESH, None)
        _cap_page(before)
        _cap_page(said)
    return answer, said


def _request_key(slot: str, context: dict) -> tuple | None:
    """What every kept answer of this slot on this request is keyed by (None: keep nothing)."""
    stamp, store_id = g.get(_STAMP), g.get("mallow_store_id")
    if stamp is None or store_id is None or not has_request_context() or not memory().enabled:
        return None
    found = context_key(context)
    if found is None:
        return None
    return (store_id, slot, str(get_locale()), request.host, request.scheme, request.script_root, found)


def answers(slot: str, context: dict) -> Iterator[tuple[str, object]]:
    """``(plugin, answer)`` for each enabled plugin's non-None answer to ``slot``, in the fixed
    order, from memory where the plugin declared the slot and the stamp still holds."""
    base = None
    for impl in guard.ordered(getattr(hooks(), HOOK).get_hookimpls()):
        name = guard.impl_name(impl)
        kept_here = guard.is_plugin(impl) and slot in declared(impl.function)
        if kept_here and base is None:
            base = _request_key(slot, context) or ()
        key = (*base, name) if kept_here and base else None
        if key is not None:
            kept = memory().get(key, g.get(_STAMP))
            if kept is not None:
                if name not in enabled_plugins():
                    continue  # switched off by the breaker during this request
                if kept.limited:
                    _cap_page(kept.expires - time.monotonic())
                if kept.answer is not None:
                    yield name, kept.answer
                continue
        answer, said = _call(impl, slot, context)
        if answer is guard.NOTHING:
            continue
        if key is not None and (said is None or said > 0):
            seconds = memory().seconds if said is None else min(said, memory().seconds)
            memory().put(key, Kept(g.get(_STAMP), time.monotonic() + seconds, answer, said is not None))
        if answer is not None:
            yield name, answer


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = SlotMemory(
        int(app.config.get("MALLOW_SLOT_CACHE_ENTRIES", 5000)), float(app.config.get("MALLOW_SLOT_CACHE_SECONDS", 300))
    )
