"""Which plugin's code is running now: set around every call into a plugin (a hook
implementation, a view of a blueprint it registered, a job it registered), read by whatever must
answer "who asked" (the SDK's store session and its permissions, fault blame, the audit log).

    with acting_as("groupbuy"):
        implementation(**kwargs)

Outside any plugin :func:`current_plugin` is None (Mallow's own code). Calls nest: a plugin that
calls back into Mallow which calls another plugin's hook sees that plugin inside, then itself
again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_current: ContextVar[str | None] = ContextVar("mallow_current_plugin", default=None)


def current_plugin() -> str | None:
    """The name of the plugin whose code is running, or None for Mallow's own."""
    return _current.get()


@contextmanager
def acting_as(name: str | None) -> Iterator[None]:
    """Run the block as plugin ``name`` (None: as Mallow itself)."""
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def enter(name: str | None) -> Token:
    """For a request that belongs to a plugin (``before_request``): pair with :func:`leave`."""
    return _current.set(name)


def leave(token: Token) -> None:
    _current.reset(token)
