"""The store's builder state row and the catalogue version that keys cached renders.

Every flush that inserts, changes or deletes a product, SKU, product image or product category
bumps ``builder_state.catalogue_version`` in the same transaction (a SQLAlchemy ``after_flush``
listener on the tenant session), so the catalogue code needs no call of its own and a change
that rolls back bumps nothing. A block type that shows other data (a plugin's campaigns) names
its classes with ``watches=`` when it registers, and their writes bump the same version. Stock taken by checkout is a conditional ``UPDATE`` statement,
not a flush of changed objects: orders never contend on this row (and pages show no stock).
"""

from __future__ import annotations

import sqlalchemy as sa
from mallow.builder import blocks
from mallow.builder.models import BuilderState
from mallow.catalog.models import Product, ProductCategory, ProductImage, Sku
from mallow.db import db
from mallow.db.session import TenantSession
from sqlalchemy import event

STATE_ID = 1


def watched_classes() -> tuple:
    """The catalogue's classes and every class a block type of this app watches."""
    return (Product, Sku, ProductImage, ProductCategory, *blocks.types_of().watches())


def _touches_catalogue(session) -> bool:
    classes = watched_classes()
    for obj in session.new:
        if isinstance(obj, classes):
            return True
    for obj in session.deleted:
        if isinstance(obj, classes):
            return True
    for obj in session.dirty:
        if isinstance(obj, classes) and session.is_modified(obj, include_collections=False):
            return True
    return False


def _insert_ignoring_conflict(session, values: dict) -> None:
    table = BuilderState.__table__
    dialect = session.get_bind(clause=table.select()).dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=["id"]))


def _defaults(**values) -> dict:
    return {
        "id": STATE_ID,
        "theme": "default",
        "theme_settings": {},
        "theme_revision": 1,
        "catalogue_version": 1,
        **values,
    }


def install() -> None:
    """Bump the catalogue version after every flush that touched it (``builder.init_app`` calls
    this; the listener is on the tenant session class, so once per process)."""
    if not event.contains(TenantSession, "after_flush", bump_catalogue_version):
        event.listen(TenantSession, "after_flush", bump_catalogue_version)


def bump_catalogue_version(session, flush_context) -> None:
    if not _touches_catalogue(session):
        return
    table = BuilderState.__table__
    result = session.execute(
        table.update().where(table.c.id == STATE_ID).values(catalogue_version=table.c.catalogue_version + 1)
    )
    if result.rowcount == 0:
        _insert_ignoring_conflict(session, _defaults(catalogue_version=2))


def state() -> BuilderState | None:
    """The state row (None before anything was saved: the defaults apply)."""
    return db.session.get(BuilderState, STATE_ID)


def state_for_update() -> BuilderState:
    """The state row, created if missing (for writes)."""
    row = db.session.get(BuilderState, STATE_ID)
    if row is None:
        _insert_ignoring_conflict(db.session, _defaults())
        row = db.session.execute(sa.select(BuilderState).where(BuilderState.id == STATE_ID)).scalar_one()
    return row


def catalogue_version() -> int:
    row = state()
    return row.catalogue_version if row is not None else 1
