"""The render cache: rendered page bodies per store, page, version, theme (and its settings'
revision), store name and language, in the memory of each process.

Nothing is ever served stale after a change, in any process, because every change moves a part
of the key or a stamp read from the database with the page row:

* publish and rollback point the page at another version id (and drop the store's entries);
* a theme switch or a settings change bumps ``builder_state.theme_revision``;
* a catalogue write bumps ``builder_state.catalogue_version`` (see
  :mod:`mallow.builder.invalidation`); an entry whose page shows catalogue data (product grid,
  single product, or any block type registered with ``uses_catalogue``) remembers the version it
  was rendered at and is a miss once the version moved. Pages without such blocks ignore it.

What else a render depends on joins the key through :func:`add_key_part`: the plugin platform
adds the store's enabled plugins and their settings, so turning a plugin on or off (or changing
its settings) in any process is a miss everywhere.

A block that shows something true for a while only (a campaign that ends at T) says so with
:func:`mallow.edge.fresh_for`: the render is kept no longer, and a page served from it is kept by
the front door no longer than the time left.

Entries also expire after ``MALLOW_PAGE_CACHE_SECONDS`` (default 300), which bounds how long
anything changed without going through the ORM (e.g. best-seller counts updated in raw SQL) can
show, and the cache holds at most ``MALLOW_PAGE_CACHE_ENTRIES`` (default 2,000), least recently
used first out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from threading import Lock

from mallow.edge import fresh_for


def add_key_part(app, part: Callable[[], Hashable]) -> None:
    """Key every render of ``app``'s cache by ``part()`` as well (called on each lookup, in the
    request)."""
    parts = app.extensions["mallow.page_cache"].key_parts
    if part not in parts:
        parts.append(part)


@dataclass
class Entry:
    html: str
    catalogue_version: int | None  # None: the page shows no catalogue data
    expires: float
    limited: bool = False  # a block said how long it is true (fresh_for): pages showing it say so too


class RenderCache:
    def __init__(self, max_entries: int = 2000, seconds: float = 300):
        self.max_entries = max_entries
        self.seconds = seconds
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = Lock()
        self.hits = 0
        self.misses = 0
        self.key_parts: list[Callable[[], Hashable]] = []

    def _full_key(self, key: tuple) -> tuple:
        return (*key, *(part() for part in self.key_parts)) if self.key_parts else key

    def get(self, key: tuple, catalogue_version: int):
        """The kept html, or None; a hit also tells the page being served how long the render is
        still true (:func:`mallow.edge.fresh_for`)."""
        key = self._full_key(key)
        with self._lock:
            entry = self._entries.get(key)
            if (
                entry is None
                or entry.expires < time.monotonic()
                or (entry.catalogue_version is not None and entry.catalogue_version != catalogue_version)
            ):
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            left = entry.expires - time.monotonic()
        if entry.limited:
            fresh_for(left)
        return entry.html

    def put(self, key: tuple, html: str, catalogue_version: int | None, seconds: float | None = None) -> None:
        """Keep ``html``; ``seconds``: what the render said with ``fresh_for`` (None: nothing)."""
        key = self._full_key(key)
        limited = seconds is not None and seconds < self.seconds
        if seconds is not None and seconds <= 0:
            return
        with self._lock:
            self._entries[key] = Entry(
                html, catalogue_version, time.monotonic() + (seconds if limited else self.seconds), limited
            )
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop_store(self, store_id: int) -> None:
        """Forget a store's entries (keys start with the store id)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == store_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def init_app(app) -> None:
    app.extensions["mallow.page_cache"] = RenderCache(
        app.config.get("MALLOW_PAGE_CACHE_ENTRIES", 2000), app.config.get("MALLOW_PAGE_CACHE_SECONDS", 300)
    )


def page_cache() -> RenderCache:
    from flask import current_app

    return current_app.extensions["mallow.page_cache"]


class VersionDocuments:
    """The published documents this process has rendered, with what every render of them first
    works out (the ids their blocks name): a compiled form of a version, not a render. Keyed by
    ``(store id, version id, the version's creation time)``: a publish or a rollback points the
    page at another version, so its key is new; a version is never changed once written, and an
    id that came back after a deletion (SQLite reuses the highest) comes with a new creation
    time. At most ``max_entries``, least recently used first out."""

    def __init__(self, max_entries: int = 1024):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._lock = Lock()

    def get(self, key: tuple):
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, compiled) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop_store(self, store_id: int) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == store_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def version_documents() -> VersionDocuments:
    """The current app's :class:`VersionDocuments` (made on first use)."""
    from flask import current_app

    found = current_app.extensions.get("mallow.version_documents")
    if found is None:
        from mallow.builder.blocks import types_of

        found = current_app.extensions.setdefault(
            "mallow.version_documents", VersionDocuments(current_app.config.get("MALLOW_VERSION_DOCUMENTS", 1024))
        )
        types_of(current_app).on_change(found.clear)  # what a compiled form says follows the types
    return found
