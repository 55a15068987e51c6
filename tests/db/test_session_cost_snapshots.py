"""The store row kept across a job's commits (``mallow.tenants.snapshots``), whose listeners run
at every transaction's begin and end (issue 13: they read ``g`` as the context's own dict and ask
a kept row's check only when the row would be put back or a transaction begins)."""

from __future__ import annotations

from mallow.testing import make_store
from mallow.testing.sql import listing, statements


def test_a_kept_row_is_put_back_after_each_commit_while_its_check_holds(app):
    from mallow.db import db
    from mallow.tenants import snapshots
    from mallow.tenants.context import current_store, store_context

    shop = make_store(app)
    asked: list[bool] = []
    answer = {"holds": True}

    def still_true():
        asked.append(answer["holds"])
        return answer["holds"]

    with store_context(shop.store_id, app=app) as store:
        snapshots.keep_row(store, still_true)
        db.session.commit()
        with statements() as seen:
            assert current_store().slug == shop.slug  # put back: no ``stores`` query
        assert seen == [], listing(seen)
        assert asked  # asked as the row was put back

        answer["holds"] = False
        db.session.commit()  # the check fails: the row is read again from now on
        with statements() as seen:
            assert current_store().slug == shop.slug
        assert any("stores" in statement for statement in seen), listing(seen)


def test_a_failed_check_as_a_transaction_begins_expires_the_row(app):
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.tenants import snapshots
    from mallow.tenants.context import store_context

    shop = make_store(app)
    answer = {"holds": True}
    with store_context(shop.store_id, app=app) as store:
        snapshots.keep_row(store, lambda: answer["holds"])
        db.session.commit()
        assert "slug" not in sa.inspect(store).expired_attributes  # the row's columns put back
        answer["holds"] = False
        db.session.connection()  # a new transaction begins
        assert "slug" in sa.inspect(store).expired_attributes
        db.session.rollback()


def test_outside_an_app_context_the_listeners_do_nothing(app):
    from mallow.db import db
    from mallow.tenants import snapshots

    with app.app_context():
        session = db.session()
    snapshots._unexpire(session)  # no context: no ``g`` to read
    snapshots._written(session, None)
