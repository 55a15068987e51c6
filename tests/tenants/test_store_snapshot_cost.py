"""The store a request gets from the process's memory (``tenants/snapshots.py``) is a row of the
request's session like a queried one, with no statement (issue 13: the fixed cost of a request).

It is attached to the session (``Session.add`` of a detached instance) because pages and
services use it as a row: ``session.get(Store, id)`` must answer it without a query, its
relationships must load, and a change to it must be flushed. These tests pin that, and the
identity-map key :func:`mallow.tenants.snapshots.find` builds itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key

from mallow.testing import make_store
from mallow.testing.sql import listing, statements


def test_the_key_find_builds_is_the_identity_maps(app):
    from mallow.tenants import snapshots
    from mallow.tenants.models import Store

    with app.app_context():
        for store_id in (1, 7, 2**31 - 1):
            assert (snapshots._IDENTITY_CLASS, (store_id,), snapshots._IDENTITY_TOKEN) == identity_key(Store, store_id)


def test_a_store_from_memory_is_a_persistent_row_of_the_request_session(app):
    from mallow.db import db
    from mallow.tenants import snapshots
    from mallow.tenants.models import Store

    shop = make_store(app)
    app.test_client().get(f"{shop.prefix}/api/me")  # the process meets the store (row and stamp)

    with app.test_request_context(f"{shop.prefix}/api/me"):
        with statements() as seen:
            store = snapshots.find(shop.slug)
            assert store is not None and store.id == shop.store_id and store.slug == shop.slug
            assert sa.inspect(store).persistent and store in db.session
            assert db.session.get(Store, shop.store_id) is store
            assert snapshots.find(shop.slug) is store  # found again in the identity map
        assert seen == [], listing(seen)

        assert store.owner is not None and store.owner.id == store.owner_id  # the relationship loads
        db.session.remove()


def test_a_change_to_a_store_from_memory_is_written_and_moves_its_stamp(app):
    from mallow.db import db
    from mallow.tenants import snapshots
    from mallow.tenants.models import Store

    shop = make_store(app)
    client = app.test_client()
    client.get(f"{shop.prefix}/api/me")

    with app.test_request_context(f"{shop.prefix}/api/me"):
        store = snapshots.find(shop.slug)
        renamed = store.name + " (改)"
        store.name = renamed
        db.session.commit()
        db.session.remove()

    with app.app_context():
        assert db.session.execute(sa.select(Store.name).where(Store.id == shop.store_id)).scalar_one() == renamed
    with app.test_request_context(f"{shop.prefix}/api/me"):
        assert snapshots.find(shop.slug).name == renamed  # not the values kept before the change
        db.session.remove()
