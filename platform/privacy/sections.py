"""The extension point of a shopper's data: what a later capability (points, coupons, chat…)
holds about a shopper joins the export and the deletion by registering a section here, from
``create_app``, never by an import from this package:

    sections.register(app, "points", collect=points.export_of, erase=points.erase_of)

``collect(customer) -> JSON-able`` becomes ``export["points"]``; ``erase(customer) -> int``
(rows erased or anonymised, in the deletion's transaction) runs when the account is deleted, and
may refuse a deletion by raising :class:`mallow.privacy.deletion.DeletionRefused`.

Plugins do not register sections: they implement the hooks ``mallow_customer_data`` and
``mallow_erase_customer`` (:mod:`mallow.privacy.plugin_data`), asked for every plugin whose tables
exist in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

EXTENSION = "mallow.privacy.sections"


@dataclass(frozen=True)
class Section:
    key: str
    collect: Callable | None = None
    erase: Callable | None = None


def register(app: Flask, key: str, *, collect: Callable | None = None, erase: Callable | None = None) -> None:
    registered = app.extensions.setdefault(EXTENSION, {})
    if key in registered:
        raise ValueError(f"privacy section {key!r} is registered already")
    registered[key] = Section(key, collect, erase)


def registered() -> list[Section]:
    return list(current_app.extensions.get(EXTENSION, {}).values())
