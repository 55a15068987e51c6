"""Mallow's own rows are read-only to plugin code: a plugin changes an order, a product or a
shopper only through the SDK's functions (``cancel_order``, ``shorten_pay_deadline``,
``add_order_event``…), never by setting an attribute of a row it was handed (a hook's ``order``)
or read (with the permission to read it).

The SDK's session refuses a plugin's statements that write core tables (:mod:`mallow.sdk.data`);
this closes the other way in: the ORM's unit of work, which would write a changed attribute of a
core row at the next flush, whoever flushes. A ``set`` listener on every attribute of Mallow's
models (``db.Model``: platform and store tables; a plugin's own tables have their own bases and
are not watched) refuses the assignment when it is made by a plugin's module while plugin code is
running (:func:`mallow.plugins.acting.current_plugin`): Mallow's code called by the plugin (the
SDK's functions) sets what it must. Outside plugin code the listener returns at its first line.
"""

from __future__ import annotations

import logging
import sys
from types import FrameType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper

from mallow.db import db
from mallow.plugins.acting import current_plugin
from mallow.sdk.data import PACKAGE_PREFIX
from mallow.sdk.reach import StoreAccessRefused

log = logging.getLogger("mallow.plugins")
_installed: set[type] = set()


def _setter_frame() -> Any:
    """The frame that assigned the attribute: the first one above SQLAlchemy's instrumentation."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and (frame.f_globals.get("__name__") or "").startswith(("sqlalchemy", __name__)):
        frame = frame.f_back
    return frame


def _refuse_plugin_writes(target: Any, _value: Any, _old: Any, initiator: Any) -> None:
    plugin = current_plugin()
    if plugin is None:
        return  # no plugin code running: Mallow's own writes
    frame = _setter_frame()
    module = (frame.f_globals.get("__name__") or "") if frame is not None else ""
    if not module.startswith(PACKAGE_PREFIX):
        return  # Mallow's code, called by the plugin (an SDK function)
    table = getattr(type(target), "__tablename__", type(target).__name__)
    error = StoreAccessRefused(
        plugin,
        table,
        f"{type(target).__name__}.{initiator.key} is Mallow's: change it through the SDK's functions, not by assignment",
    )
    log.warning("plugin %s refused: %s", plugin, error)
    raise error


def _watch(mapper: Mapper[Any]) -> None:
    if mapper.class_ in _installed:
        return
    _installed.add(mapper.class_)
    for attribute in mapper.column_attrs:
        sa.event.listen(getattr(mapper.class_, attribute.key), "set", _refuse_plugin_writes)


def guard_core_rows() -> None:
    """Watch every model of Mallow's (``create_app`` calls it once all models are imported;
    again is harmless: each model is watched once per process)."""
    for mapper in db.Model.registry.mappers:  # type: ignore[attr-defined]
        _watch(mapper)
