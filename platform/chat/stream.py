"""The chat's server-sent events (SSE): one bounded answer, then the browser reconnects.

An answer lasts ``CHAT_STREAM_SECONDS`` (25 s: under gunicorn's default 30 s timeout, and short
enough that a worker is never held for long), then ends; the browser's ``EventSource``
reconnects by itself after the ``retry`` we send, with ``Last-Event-ID`` = the id of the last
message it received. Each event's id is the message's id, and the stream sends only messages
with an id above ``Last-Event-ID`` (or ``?after=``, the last one the page showed), read from
the table: nothing is lost between two answers and nothing comes twice.

Between reads the stream waits for a wake-up (:mod:`mallow.chat.realtime`) and holds no
database connection: each read is its own short transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from flask import Response, current_app, request, stream_with_context

from mallow.chat import realtime
from mallow.db import db
from mallow.web.ids import ID_MAX

#: the browser waits this long before it reconnects (ms)
RETRY_MS = 1500
#: a comment line this often keeps proxies from closing an idle stream
KEEPALIVE_SECONDS = 15.0


def last_event_id(default: int = 0) -> int:
    """Where the stream starts: ``Last-Event-ID`` (a reconnect), else ``?after=``, else ``default``."""
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        raw = (raw or "").strip()
        if raw.isascii() and raw.isdigit() and 0 <= int(raw) <= ID_MAX:
            return int(raw)
    return default


def event(name: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def sse(
    store_id: int,
    conversation_id: int | None,
    after: int,
    read: Callable[[int], list[dict]],
    seconds: float | None = None,
) -> Response:
    """The answer: ``read(after)`` gives the message views after an id (oldest first); it runs
    at once, then after every wake-up and at least every ``CHAT_POLL_SECONDS``."""
    config = current_app.config
    seconds = float(seconds if seconds is not None else config.get("CHAT_STREAM_SECONDS") or 25)
    poll = float(config.get("CHAT_POLL_SECONDS") or 2)
    hub = realtime.hub()

    def generate() -> Iterator[str]:
        listener = hub.listen(store_id, conversation_id)  # before the first read: no gap
        last, deadline, quiet_since = after, time.monotonic() + seconds, time.monotonic()
        try:
            yield f"retry: {RETRY_MS}\n: {hub.kind}\n\n"
            while True:
                try:
                    found = read(last)
                finally:
                    db.session.rollback()  # the connection goes back to the pool while we wait
                for view in found:
                    last = max(last, int(view["id"]))
                    yield event("message", view, view["id"])
                if found:
                    quiet_since = time.monotonic()
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                listener.wait(
                    min(left, poll if isinstance(listener, realtime.LocalListener) else realtime.REDIS_SAFETY_SECONDS)
                )
        finally:
            listener.close()

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        },
    )
