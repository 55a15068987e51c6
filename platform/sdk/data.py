"""The SDK's ``db``: the active store's session as plugins get it, checked when they use it.

``from mallow.sdk import db`` gives plugins ``db.session`` (``execute``, ``scalars``, ``scalar``,
``get``, ``add``, ``add_all``, ``delete``, ``refresh``, ``flush``, ``commit``, ``rollback``,
``begin_nested``, ``expire``, ``expunge``, ``info``, ``listen``) and ``db.engine.dialect.name``.
It is Flask-SQLAlchemy's session underneath, so a plugin's work commits and rolls back with the
request's or job's. What it does not give: ``connection()``, ``bind``, ``get_bind``, engines,
``query()`` and the platform's own ``db``.

Every statement and every model handed to it is checked when the plugin hands it over
(:mod:`mallow.sdk.reach`): the active store's tables only, core ones as the manifest's
permissions allow (read only), the plugin's own with ``tables``. A refusal raises
:class:`~mallow.sdk.reach.StoreAccessRefused` naming the plugin, the table and what is missing,
logged at WARNING.

Whose code is asking: the innermost plugin package among the caller's frames (a plugin's module
calls ``db.session.execute`` directly), else :func:`mallow.plugins.acting.current_plugin` (a
plugin's code calling through a library). Outside any plugin (a plugin's own tests) the store
boundary still holds; the permissions are a plugin's.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType, SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context

from mallow.accounts.guards import principal as _principal
from mallow.db import db as _db
from mallow.orders.models import OrderEvent
from mallow.plugins.acting import current_plugin
from mallow.sdk.reach import StoreAccessRefused, check_mapped, check_statement
from mallow.tenants.context import current_store as _current_store
from mallow.tenants.views import StoreView, store_view

log = logging.getLogger("mallow.plugins")
PACKAGE_PREFIX = "mallow_"
#: how many frames above the SDK's method are searched for a plugin's module
FRAMES = 4
#: transaction events a plugin may follow (its own after-commit work, e.g. a cache or Redis gate)
EVENTS = frozenset(
    {"after_commit", "after_rollback", "after_soft_rollback", "after_transaction_end", "after_transaction_create"}
)
#: execution options that would route a statement around the store's schema translation
_ROUTING_OPTIONS = ("schema_translate_map",)
_NO_PERMISSIONS: frozenset[str] = frozenset()


def acting_plugin(frame: FrameType | None) -> tuple[str | None, frozenset[str]]:
    """``(plugin name, its manifest's permissions)`` of the code that called the SDK at
    ``frame``, or ``(None, ∅)`` for code that is no plugin's."""
    packages, permissions = _loaded()
    depth = 0
    while frame is not None and depth < FRAMES:
        module = frame.f_globals.get("__name__") or ""
        if module.startswith(PACKAGE_PREFIX):
            found = packages.get(module.partition(".")[0])
            if found is not None:
                return found, permissions[found]
        frame, depth = frame.f_back, depth + 1
    name = current_plugin()
    if name is None:
        return None, _NO_PERMISSIONS
    return name, permissions.get(name, _NO_PERMISSIONS)


def _loaded() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """``({package: plugin}, {plugin: permissions})`` of the app's loaded plugins (built once
    per app, and again when more are loaded)."""
    if not has_app_context():
        return {}, {}
    loaded = current_app.extensions.get("mallow.loaded_plugins") or {}
    cached = current_app.extensions.get("mallow.sdk.plugin_packages")
    if cached is None or cached[0] != len(loaded):
        packages = {manifest.module: name for name, manifest in loaded.items()}
        permissions = {name: frozenset(manifest.permissions) for name, manifest in loaded.items()}
        cached = current_app.extensions["mallow.sdk.plugin_packages"] = (len(loaded), packages, permissions)
    return cached[1], cached[2]


def _refused(error: StoreAccessRefused) -> StoreAccessRefused:
    log.warning("store access refused: %s", error)
    return error


def _check(statement: Any, frame: FrameType | None, options: Any = None) -> None:
    plugin, permissions = acting_plugin(frame)
    try:
        routed = dict(options or {}) | dict(getattr(statement, "_execution_options", None) or {})
        if any(option in routed for option in _ROUTING_OPTIONS):
            raise StoreAccessRefused(plugin, None, "schema_translate_map routes around the active store")
        check_statement(statement, plugin, permissions)
    except StoreAccessRefused as error:
        raise _refused(error) from None


def _check_model(entity: Any, frame: FrameType | None, *, write: bool) -> None:
    plugin, permissions = acting_plugin(frame)
    try:
        check_mapped(entity, plugin, permissions, write=write)
    except StoreAccessRefused as error:
        raise _refused(error) from None


def _no_bind(bind_arguments: Any, frame: FrameType | None) -> None:
    if bind_arguments:
        raise _refused(StoreAccessRefused(acting_plugin(frame)[0], None, "bind_arguments choose another database"))


class StoreSession:
    """The active store's session as a plugin uses it (``db.session`` and ``db.session()``)."""

    def __call__(self) -> StoreSession:
        return self

    def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = None,
        bind_arguments: Any = None,
        **kwargs: Any,
    ) -> Any:
        frame = sys._getframe(1)
        _no_bind(bind_arguments, frame)
        _check(statement, frame, execution_options)
        return _db.session.execute(statement, params, execution_options=execution_options or {}, **kwargs)

    def scalars(self, statement: Any, params: Any = None, *, execution_options: Any = None, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        _no_bind(kwargs.pop("bind_arguments", None), frame)
        _check(statement, frame, execution_options)
        return _db.session.scalars(statement, params, execution_options=execution_options or {}, **kwargs)

    def scalar(self, statement: Any, params: Any = None, *, execution_options: Any = None, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        _no_bind(kwargs.pop("bind_arguments", None), frame)
        _check(statement, frame, execution_options)
        return _db.session.scalar(statement, params, execution_options=execution_options or {}, **kwargs)

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        _no_bind(kwargs.pop("bind_arguments", None), frame)
        _check_model(entity, frame, write=False)
        return _db.session.get(entity, ident, **kwargs)

    def refresh(self, instance: Any, attribute_names: Iterable[str] | None = None, **kwargs: Any) -> None:
        _check_model(instance, sys._getframe(1), write=False)
        _db.session.refresh(instance, attribute_names, **kwargs)

    def add(self, instance: Any) -> None:
        _check_model(instance, sys._getframe(1), write=True)
        _db.session.add(instance)

    def add_all(self, instances: Iterable[Any]) -> None:
        frame = sys._getframe(1)
        instances = list(instances)
        for instance in instances:
            _check_model(instance, frame, write=True)
        _db.session.add_all(instances)

    def delete(self, instance: Any) -> None:
        _check_model(instance, sys._getframe(1), write=True)
        _db.session.delete(instance)

    def flush(self, objects: Any = None) -> None:
        _db.session.flush(objects)

    def commit(self) -> None:
        _db.session.commit()

    def rollback(self) -> None:
        _db.session.rollback()

    def begin_nested(self) -> Any:
        """A savepoint: ``with db.session.begin_nested(): …``."""
        return _db.session.begin_nested()

    def expire(self, instance: Any, attribute_names: Iterable[str] | None = None) -> None:
        _db.session.expire(instance, attribute_names)

    def expire_all(self) -> None:
        _db.session.expire_all()

    def expunge(self, instance: Any) -> None:
        _db.session.expunge(instance)

    @property
    def info(self) -> dict[Any, Any]:
        """The session's own dict, for state that lives as long as the session."""
        info: dict[Any, Any] = _db.session.info
        return info

    def in_transaction(self) -> bool:
        return bool(_db.session().in_transaction())

    def in_nested_transaction(self) -> bool:
        return bool(_db.session().in_nested_transaction())

    def listen(self, event: str, callback: Callable[..., Any]) -> None:
        """Run ``callback(session, …)`` on one of the session's transaction events
        (:data:`EVENTS`), e.g. work to do once the transaction has committed."""
        if event not in EVENTS:
            raise ValueError(f"{event!r}: a plugin follows these session events: {', '.join(sorted(EVENTS))}")

        def relay(_session: Any, *args: Any) -> Any:
            return callback(self, *args)

        sa.event.listen(_db.session(), event, relay)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"db.session.{name} is not part of the plugin SDK (docs/plugins.md, *The plugin SDK*)")


class StoreDatabase:
    """``mallow.sdk.db``: :attr:`session` and ``engine.dialect.name``, nothing else."""

    session = StoreSession()

    @property
    def engine(self) -> SimpleNamespace:
        """Which database this is (``db.engine.dialect.name``: ``"postgresql"`` or ``"sqlite"``)."""
        return SimpleNamespace(dialect=SimpleNamespace(name=_db.engine.dialect.name))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"db.{name} is not part of the plugin SDK: use db.session, the models and store_sql")


db = StoreDatabase()


def add_order_event(order_id: int, kind: str, **detail: Any) -> None:
    """A timeline entry on an order of the active store, by the calling plugin (its actor is
    ``plugin:<name>``; label ``kind`` with ``mallow_order_event_label``). Needs the permission
    ``orders``; the caller commits."""
    plugin, permissions = acting_plugin(sys._getframe(1))
    if plugin is None or "orders" not in permissions:
        raise _refused(StoreAccessRefused(plugin, "order_events", "add_order_event needs the permission 'orders'"))
    _db.session.add(OrderEvent(order_id=order_id, kind=kind, actor=f"plugin:{plugin}", detail=detail))


def current_store() -> StoreView | None:
    """The active store (``id``, ``slug``, ``name``, ``status``, ``is_open``), None outside a store."""
    return store_view(_current_store())


@dataclass(frozen=True)
class PrincipalView:
    """A signed-in merchant, staff member or admin as a plugin sees them: who (for the audit log
    and "decided by"), never the account row with its password hash."""

    kind: str
    id: int


def principal(kind: str) -> Any:
    """The signed-in ``"shopper"`` (this store's ``Customer``) or, for any other kind, a
    :class:`PrincipalView` (``kind``, ``id``); ``None`` when nobody of that kind is signed in."""
    found = _principal(kind)
    if found is None or kind == "shopper":
        return found
    return PrincipalView(kind=str(getattr(found, "kind", kind)), id=int(found.id))
