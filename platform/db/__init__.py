"""The one SQLAlchemy object, and the two model bases.

* ``PlatformModel``: tables shared by the whole platform (admins, merchants, stores,
  qualifications, audit log), in the default schema of ``DATABASE_URL``.
* ``StoreModel``: tables every store has a copy of (staff, customers, products, orders, …).
  Their schema is the placeholder ``store``: PostgreSQL translates it to the store's own
  schema (``store_<id>``) and SQLite attaches the store's own file under that name (see
  :mod:`mallow.tenants.engines`). A query on a store table without an active store fails.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from .session import TenantSession, STORE_BIND, STORE_SCHEMA

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(
    metadata=sa.MetaData(naming_convention=NAMING),
    session_options={"class_": TenantSession},
)
# Pre-seed the store bind's metadata so that every store table gets the placeholder schema.
db.metadatas[STORE_BIND] = sa.MetaData(schema=STORE_SCHEMA, naming_convention=NAMING, info={"bind_key": STORE_BIND})

PlatformModel = db.Model


class StoreModel(db.Model):
    """Base for tables that live in each store's own schema or file."""

    __abstract__ = True
    __bind_key__ = STORE_BIND


platform_metadata = db.metadatas[None]
store_metadata = db.metadatas[STORE_BIND]


def utcnow():
    """Aware UTC now; every timestamp column stores UTC."""
    return datetime.now(UTC)
