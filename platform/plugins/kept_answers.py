"""What plugins answered, kept in this process's memory while the store's stamp holds.

One mechanism for two uses: the markup of a plugin's declared template slot
(:mod:`mallow.plugins.slot_cache`) and the data a plugin's page-builder block resolves
(:mod:`mallow.plugin_host.blocks`). Each keeps an answer per store, request stamp
(:mod:`mallow.tenants.stamps`), language and address (host, scheme, script root: the links in
it) plus what its use adds (the plugin, the slot or block, a key of what it was given), and
serves it again without calling the plugin while the stamp is the same:

* **stamp**: an entry read under another stamp is gone (a commit that flushed a watched class
  moved it); no stamp (Redis away, no store) keeps nothing;
* **time**: an answer whose call said ``fresh_for(seconds)`` (a sale that starts at T) is kept at
  most that long and not at all for 0; a page it lands in, served or rendered, is capped the same
  way (``fresh_for`` keeps the page's cap in ``g.mallow_fresh_seconds``: :mod:`mallow.edge.pages`).
  Any entry goes after the memory's ``seconds`` whatever happens, which bounds a write a plugin
  forgot to announce;
* **size**: at most ``max_entries``, least recently used first out; 0 turns the memory off;
* **faults**: a call that raised keeps nothing; a hit calls nothing of the plugin.

Times are ``time.monotonic()`` readings the caller passes (``now``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from threading import Lock

from flask import g, has_request_context, request
from flask_babel import get_locale

#: where :func:`mallow.edge.fresh_for` keeps how long the page being rendered stays true
FRESH = "mallow_fresh_seconds"
#: the store's stamp read for this request by the resolver (:mod:`mallow.tenants.snapshots`)
STAMP = "mallow_store_stamp"
_SCALARS = (str, int, bool, type(None))


@dataclass(frozen=True)
class Kept:
    stamp: object
    expires: float  # time.monotonic()
    answer: object  # the plugin's answer
    limited: bool  # the plugin said how long (fresh_for): pages it lands in are capped too


class KeptAnswers:
    """An LRU of :class:`Kept` answers, each valid under the stamp it was kept with."""

    def __init__(self, max_entries: int, seconds: float):
        self.max_entries, self.seconds = max_entries, seconds
        self._entries: OrderedDict[tuple, Kept] = OrderedDict()
        self._lock = Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.seconds > 0

    def get(self, key: tuple, stamp, now: float) -> Kept | None:
        with self._lock:
            kept = self._entries.get(key)
            if kept is None or kept.stamp != stamp or kept.expires <= now:
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

    def keep(self, key: tuple, answer, said: float | None, now: float) -> None:
        """Keep ``answer`` under the request's stamp; ``said``: the seconds its call gave with
        ``fresh_for`` (None: nothing; 0 or less: not kept)."""
        if said is not None and said <= 0:
            return
        seconds = self.seconds if said is None else min(said, self.seconds)
        self.put(key, Kept(g.get(STAMP), now + seconds, answer, said is not None))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def request_key(memory: KeptAnswers, *parts: Hashable) -> tuple | None:
    """``(store, language, host, scheme, script root, *parts)``: what an answer kept on this
    request is keyed by; None when nothing may be kept (no request, no store or stamp, the
    memory off)."""
    if not has_request_context() or not memory.enabled:
        return None
    stamp, store_id = g.get(STAMP), g.get("mallow_store_id")
    if stamp is None or store_id is None:
        return None
    return (store_id, str(get_locale()), request.host, request.scheme, request.script_root, *parts)


def stamp() -> object:
    """The store's stamp read for this request (None: none)."""
    return g.get(STAMP)


def cap_page(seconds: float | None) -> None:
    """The page being rendered is true for at most ``seconds`` more (None: nothing said)."""
    if seconds is not None:
        current = g.get(FRESH)
        setattr(g, FRESH, seconds if current is None else min(current, seconds))


def served(kept: Kept, now: float):
    """A kept answer, served: the page it lands in is capped as the call that made it was."""
    if kept.limited:
        cap_page(kept.expires - now)
    return kept.answer


def call_timed(call: Callable[[], object]) -> tuple[object, float | None]:
    """``call()``'s answer and the seconds it gave with ``fresh_for`` meanwhile (None: nothing
    said), told apart from what the page said before; the page keeps the shortest cap either
    way, also when the call raised."""
    before = g.pop(FRESH, None)
    try:
        answer = call()
    finally:
        said = g.pop(FRESH, None)
        cap_page(before)
        cap_page(said)
    return answer, said


# --- keys of what an answer was given --------------------------------------------------------

NOT_KEPT = object()


def _value_key(value) -> Hashable:
    if isinstance(value, _SCALARS):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        found = value.get("id", NOT_KEPT)
    elif isinstance(value, (list, tuple)):
        parts = tuple(_value_key(item) for item in value)
        return NOT_KEPT if NOT_KEPT in parts else ("seq", parts)
    else:
        found = getattr(value, "id", NOT_KEPT)
    if isinstance(found, (str, int)) and not isinstance(found, bool):
        return ("id", type(value).__name__, found)
    return NOT_KEPT


def context_key(context: dict) -> tuple | None:
    """A key of ``context`` (None: not kept). A value counts by its ``id`` (an attribute, or a
    dict's key: the rows an answer shows are the same while the stamp holds), by value for a
    str, int, bool or None, or element by element for a list or tuple; anything else is not
    kept."""
    parts = []
    for name in sorted(context):
        key = _value_key(context[name])
        if key is NOT_KEPT:
            return None
        parts.append((name, key))
    return tuple(parts)
