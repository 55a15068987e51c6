"""What the lane tests share: which requests reached Flask, and the headers answers are compared on."""

from __future__ import annotations

from contextlib import contextmanager

from flask import request_started

#: the headers an answer is compared on (besides its status and body)
HEADERS = (
    "Content-Type",
    "Content-Length",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Vary",
    "WWW-Authenticate",
    "Set-Cookie",
    "Allow",
)


@contextmanager
def flask_requests(app):
    """The requests that reached Flask (a request context) inside the block."""
    seen: list[str] = []

    def started(_sender, **_extra):
        from flask import request

        seen.append(f"{request.method} {request.path}")

    request_started.connect(started, app)
    try:
        yield seen
    finally:
        request_started.disconnect(started, app)
