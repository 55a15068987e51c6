"""A Redis mirror of shopper API tokens, so a front door can tell who is asking without the database.

With ``REDIS_URL`` set, every shopper **token** session (``Authorization: Bearer shp_…``; browser
sessions are not mirrored: they live in the signed cookie) is also written to Redis once its
transaction has committed::

    <prefix>:sess:<sha256 of the secret>   "<store id>:<customer id>", expiring with the session
    <prefix>:sess-of:<store>:<customer>    the customer's mirrored digests (for revoke_all)

The prefix is ``SESSION_MIRROR_PREFIX`` (default ``mallow``). A key is a *claim*, never the only
proof: the mirror may miss a session (Redis was away, the key was evicted, it was issued before
the mirror existed): a reader that finds no key must send the request on to the normal route,
whose database lookup re-mirrors it (:func:`remember_found`, only when the front door marked the
request with :data:`MISSING`). What the mirror must never hold is a key of a session that is gone:

* revoking deletes the key at once (and again after the commit), and leaves a tombstone
  (``<prefix>:sess-gone:<digest>``, :data:`TOMBSTONE_SECONDS`) so a lookup that read the row just
  before the revoke committed cannot write it back;
* ``revoke_all`` and deactivating a customer delete every digest of the customer's set and leave
  a tombstone for the customer (``<prefix>:sess-gone-c:<store>:<customer>``): for
  :data:`TOMBSTONE_SECONDS` none of their sessions is mirrored (the door sends them to Flask).

Redis failing never breaks a login or a request: the failure is logged and the mirror misses.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, UTC

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context, has_request_context, request

from mallow.db import db
from mallow.db.outcomes import outermost, outermost_ended

log = logging.getLogger("mallow.accounts")

#: the ``environ`` key a front door sets when it found no mirrored key for the request's token
MISSING = "mallow.session_mirror.missing"
#: how long a revoked session (or customer) may not be written back
TOMBSTONE_SECONDS = 300
_STATE = "mallow.session_mirror.pending"

# KEYS: session key, the customer's set, the session's tombstone, the customer's tombstone
# ARGV: value, ttl seconds, digest
WRITE = """
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 1
"""

# KEYS: session key, tombstone; ARGV: tombstone seconds
FORGET = """
redis.call('SET', KEYS[2], 1, 'EX', ARGV[1])
local value = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
return value
"""

# KEYS: the customer's set, the customer's tombstone; ARGV: key prefix ("<prefix>:sess:"),
# tombstone prefix ("<prefix>:sess-gone:"), tombstone seconds
FORGET_ALL = """
redis.call('SET', KEYS[2], 1, 'EX', ARGV[3])
local digests = redis.call('SMEMBERS', KEYS[1])
for _, d in ipairs(digests) do
  redis.call('SET', ARGV[2] .. d, 1, 'EX', ARGV[3])
  redis.call('DEL', ARGV[1] .. d)
end
redis.call('DEL', KEYS[1])
return #digests
"""


@dataclass
class _Client:
    url: str
    redis: object
    write: object
    forget: object
    forget_all: object


_CLIENT_LOCK = threading.Lock()


def url_of(app: Flask) -> str:
    """The Redis the mirror lives in for ``app`` ("" when there is none: no mirror)."""
    return app.config.get("REDIS_URL") or ""


def prefix_of(app: Flask) -> str:
    return app.config.get("SESSION_MIRROR_PREFIX") or "mallow"


def session_key(app: Flask, digest: str) -> str:
    return f"{prefix_of(app)}:sess:{digest}"


def _client(app: Flask) -> _Client | None:
    url = url_of(app)
    if not url:
        return None
    found = app.extensions.get("mallow.session_mirror")
    if found is None or found.url != url:
        import redis

        with _CLIENT_LOCK:
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            found = _Client(
                url,
                client,
                client.register_script(WRITE),
                client.register_script(FORGET),
                client.register_script(FORGET_ALL),
            )
            app.extensions["mallow.session_mirror"] = found
    return found


def _app() -> Flask | None:
    return current_app._get_current_object() if has_app_context() else None


# --- writes ---------------------------------------------------------------------------------------


def _write(app: Flask, digest: str, store_id: int, customer_id: int, expires_at: datetime) -> bool:
    client = _client(app)
    if client is None:
        return False
    moment = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    ttl = int((moment - datetime.now(UTC)).total_seconds())
    if ttl <= 0:
        return False
    p = prefix_of(app)
    try:
        keys = [f"{p}:sess:{digest}", f"{p}:sess-of:{store_id}:{customer_id}", f"{p}:sess-gone:{digest}"]
        keys.append(f"{p}:sess-gone-c:{store_id}:{customer_id}")
        return bool(client.write(keys=keys, args=[f"{int(store_id)}:{int(customer_id)}", ttl, digest]))
    except Exception as error:  # noqa: BLE001 -- the mirror misses; the database still answers
        log.warning("session mirror: could not write a session: %s", error)
        return False


def _forget(app: Flask, digest: str) -> None:
    client = _client(app)
    if client is None:
        return
    p = prefix_of(app)
    try:
        client.forget(keys=[f"{p}:sess:{digest}", f"{p}:sess-gone:{digest}"], args=[TOMBSTONE_SECONDS])
    except Exception as error:  # noqa: BLE001
        log.warning("session mirror: could not delete a session: %s", error)


def _forget_all(app: Flask, store_id: int, customer_id: int) -> None:
    client = _client(app)
    if client is None:
        return
    p = prefix_of(app)
    try:
        client.forget_all(
            keys=[f"{p}:sess-of:{store_id}:{customer_id}", f"{p}:sess-gone-c:{store_id}:{customer_id}"],
            args=[f"{p}:sess:", f"{p}:sess-gone:", TOMBSTONE_SECONDS],
        )
    except Exception as error:  # noqa: BLE001
        log.warning("session mirror: could not delete a customer's sessions: %s", error)


def _after_commit(callback) -> None:
    """Run ``callback`` once the session's outermost transaction has committed (dropped on a
    rollback)."""
    session = db.session()
    state = session.info.get(_STATE)
    if state is None:
        state = session.info[_STATE] = {"callbacks": [], "committed": False}
        sa.event.listen(session, "after_commit", _committed)
        sa.event.listen(session, "after_transaction_end", _ended)
    state["callbacks"].append(callback)


@outermost
def _committed(session) -> None:
    session.info[_STATE]["committed"] = True


@outermost_ended
def _ended(session, _transaction) -> None:
    state = session.info.get(_STATE)
    if not state or not state["callbacks"]:
        return
    callbacks, committed = state["callbacks"], state["committed"]
    state["callbacks"], state["committed"] = [], False
    if committed:
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 -- never after a commit
                log.exception("session mirror: a post-commit write failed")


def _store_id() -> int | None:
    from mallow.tenants.context import current_store

    store = current_store()
    return store.id if store is not None else None


def issued(digest: str, customer_id: int, via: str, expires_at: datetime) -> None:
    """A shopper session row was added: mirror it once its transaction commits (tokens only)."""
    app = _app()
    store_id = _store_id()
    if app is None or via != "token" or store_id is None or not url_of(app):
        return
    _after_commit(lambda: _write(app, digest, store_id, customer_id, expires_at))


def revoked(digest: str) -> None:
    """A shopper session is being deleted: its key goes now and again after the commit."""
    app = _app()
    if app is None or not url_of(app):
        return
    _forget(app, digest)
    _after_commit(lambda: _forget(app, digest))


def customer_revoked(customer_id: int, store_id: int | None = None) -> None:
    """Every session of a customer is being ended (revoke_all, deactivation)."""
    app = _app()
    store_id = store_id if store_id is not None else _store_id()
    if app is None or store_id is None or not url_of(app):
        return
    _forget_all(app, store_id, customer_id)
    _after_commit(lambda: _forget_all(app, store_id, customer_id))


def remember_found(digest: str, customer, row) -> None:
    """The database found a valid shopper token the front door had marked missing
    (:data:`MISSING` in the request's environ): write it back (refused under a tombstone)."""
    if row.via != "token" or not has_request_context() or not request.environ.get(MISSING):
        return
    app = _app()
    store_id = _store_id()
    if app is None or store_id is None or not customer.is_active:
        return
    request.environ.pop(MISSING, None)
    _write(app, digest, store_id, customer.id, row.expires_at)


# --- reading (for a front door) ---------------------------------------------------------------


@dataclass(frozen=True)
class SessionMirror:
    """Where shopper sessions are mirrored for one app: ``url`` (its Redis) and ``prefix``.

    ``key(secret)`` is the Redis key of a shopper token (None for anything else); its value is
    ``"<store id>:<customer id>"`` while the session is valid. A reader that finds no key sends
    the request on to the normal route after ``ask_again(environ)``: the route's lookup then
    writes the key back."""

    url: str
    prefix: str

    def key(self, secret: str | None) -> str | None:
        import hashlib

        if not secret or not secret.startswith("shp_"):
            return None
        return f"{self.prefix}:sess:{hashlib.sha256(secret.encode()).hexdigest()}"

    @staticmethod
    def ask_again(environ: dict) -> None:
        environ[MISSING] = True


def mirror_of(app: Flask) -> SessionMirror | None:
    """The app's session mirror, or None (no ``REDIS_URL``)."""
    url = url_of(app)
    if not url:
        return None
    prefix = prefix_of(app)
    found = app.extensions.get("mallow.session_mirror.view")
    if found is None or found.url != url or found.prefix != prefix:
        found = app.extensions["mallow.session_mirror.view"] = SessionMirror(url, prefix)
    return found


# --- deactivation ---------------------------------------------------------------------------------


def _on_active_set(target, value, oldvalue, _initiator):
    """``customer.active = False`` anywhere: the customer's mirrored sessions go (Flask's lookup
    refuses an inactive customer; the door must not admit them meanwhile)."""
    if value or oldvalue is False or getattr(target, "id", None) is None:
        return
    try:
        customer_revoked(target.id)
    except Exception:  # noqa: BLE001 -- never break the write that deactivates
        log.exception("session mirror: could not forget a deactivated customer's sessions")


def install_listeners() -> None:
    from mallow.accounts.models import Customer

    if not sa.event.contains(Customer.active, "set", _on_active_set):
        sa.event.listen(Customer.active, "set", _on_active_set)
