"""The request being answered, as observability sees it: its id, route, store and principal.

:mod:`.requests` makes a :class:`RequestInfo` per request and keeps it in a context variable
for the time the app takes to answer (a thread's own under waitress and gunicorn's workers);
Flask's teardown fills in what only the app knows (the URL rule, the store, the principal)
before its context goes, so the access line logged after it still has them.
"""

from __future__ import annotations

from contextvars import ContextVar

from flask import g, has_app_context, has_request_context

#: principal kinds as mallow.accounts names them → as the logs name them
KINDS = {"admin": "admin", "merchant": "staff", "shopper": "customer", "developer": "developer"}


class RequestInfo:
    __slots__ = ("id", "route", "store", "principal", "flask")

    def __init__(self, request_id: str):
        self.id = request_id
        self.route: str | None = None
        self.store: str | None = None
        self.principal: str | None = None
        self.flask = False  # Flask answered (its teardown ran): else the front door did


_current: ContextVar[RequestInfo | None] = ContextVar("mallow_request", default=None)


def current() -> RequestInfo | None:
    return _current.get()


def begin(info: RequestInfo):
    return _current.set(info)


def end(token) -> None:
    _current.reset(token)


def principal_kind() -> str | None:
    """The kind of principal this request signed in as, read from the lookups
    :func:`mallow.accounts.guards.principal` already made (``g.mallow_principals``), never a
    lookup of its own: ``admin``, ``staff``, ``customer``, ``developer``, ``guest`` when none was
    signed in (or none was asked for yet); ``None`` outside a request."""
    if not has_request_context():
        return None
    return principal_of(g.get("mallow_principals"))


def principal_of(found: dict | None) -> str:
    """The kind :func:`principal_kind` names for the lookups ``found`` (``g.mallow_principals``)."""
    if found:
        for kind, value in found.items():
            if value:
                return KINDS.get(kind, kind)
    return "guest"


def store_slug() -> str | None:
    """The store this request (or job) works in, if it resolved one."""
    return g.get("mallow_store_slug") if has_app_context() else None
