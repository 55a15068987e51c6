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

The memory is :mod:`mallow.plugins.kept_answers` (the same one keeps plugin blocks' data):

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
from collections.abc import Callable, Iterator

from flask import Flask, current_app

from mallow.plugins import guard
from mallow.plugins.kept_answers import KeptAnswers, call_timed, context_key, request_key, served, stamp
from mallow.plugins.manager import hooks
from mallow.plugins.stores import enabled_plugins

EXTENSION = "mallow.slot_cache"
HOOK = "mallow_template_slot"
_MARK = "_mallow_slot_watches"


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


def memory(app: Flask | None = None) -> KeptAnswers:
    return (app or current_app).extensions[EXTENSION]


def _request_key(slot: str, context: dict) -> tuple | None:
    """What every kept answer of this slot on this request is keyed by (None: keep nothing)."""
    found = context_key(context)
    return None if found is None else request_key(memory(), "slot", slot, found)


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
            now = time.monotonic()
            kept = memory().get(key, stamp(), now)
            if kept is not None:
                if name not in enabled_plugins():
                    continue  # switched off by the breaker during this request
                answer = served(kept, now)
                if answer is not None:
                    yield name, answer
                continue
        answer, said = call_timed(lambda: guard.call(impl, HOOK, {"slot": slot, "context": context}))  # noqa: B023
        if answer is guard.NOTHING:
            continue
        if key is not None:
            memory().keep(key, answer, said, time.monotonic())
        if answer is not None:
            yield name, answer


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = KeptAnswers(
        int(app.config.get("MALLOW_SLOT_CACHE_ENTRIES", 5000)), float(app.config.get("MALLOW_SLOT_CACHE_SECONDS", 300))
    )
