"""A savepoint is not the transaction's outcome (``mallow.db.outcomes``).

SQLAlchemy fires the session's commit events when a savepoint is released and its rollback events
when one is rolled back. What is published at the commit (a store's stamp, the stamp of a store's
kept sessions, analytics events, notification jobs) must wait for the outermost commit: published
at a savepoint release, another process reads the old rows under the new stamp and keeps them
until the next change. What is pending from the writes made before a savepoint must survive that
savepoint's rollback (a plugin's guarded call that failed) and be published at the commit.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mallow.testing import make_product, make_shopper, make_store
from mallow.testing.payments import place_order


@pytest.fixture
def shop(app):
    return make_store(app)


def test_the_helper_runs_a_listener_for_the_outermost_transaction_only():
    """Savepoints in savepoints released and rolled back, and ``session.rollback()`` with
    savepoints open: each listener runs once per outermost transaction, at its end."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from mallow.db.outcomes import outermost, outermost_ended

    session = Session(sa.create_engine("sqlite://"))
    seen: list[str] = []
    for name in ("before_commit", "after_commit", "after_rollback"):
        sa.event.listen(session, name, outermost(lambda _s, name=name: seen.append(name)))
    for name in ("after_soft_rollback", "after_transaction_end"):
        sa.event.listen(session, name, outermost_ended(lambda _s, _t, name=name: seen.append(name)))

    session.execute(sa.text("select 1"))
    outer = session.begin_nested()
    session.begin_nested().commit()
    session.begin_nested().rollback()
    outer.commit()
    session.begin_nested().rollback()
    assert seen == []
    session.commit()
    assert seen == ["before_commit", "after_commit", "after_transaction_end"]

    seen.clear()
    session.execute(sa.text("select 1"))
    session.begin_nested()
    session.begin_nested()
    session.rollback()
    assert seen == ["after_rollback", "after_transaction_end", "after_soft_rollback"]


def test_a_store_stamp_moves_at_the_commit_not_at_a_savepoint_release(app, shop):
    from mallow import settings
    from mallow.db import db
    from mallow.tenants import stamps
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        before = stamps.current(shop.store_id)
        savepoint = db.session.begin_nested()
        settings.put("low_stock_threshold", 11)  # a watched row, flushed
        savepoint.commit()
        assert stamps.current(shop.store_id) == before  # not committed yet: nothing may move
        db.session.commit()
        assert stamps.current(shop.store_id) != before


def test_a_savepoint_rolled_back_keeps_the_stamp_of_earlier_writes(app, shop):
    from mallow import settings
    from mallow.db import db
    from mallow.tenants import stamps
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        before = stamps.current(shop.store_id)
        settings.put("low_stock_threshold", 12)  # flushed before the savepoint
        with pytest.raises(RuntimeError), db.session.begin_nested():
            raise RuntimeError("a plugin's guarded call failed")
        db.session.commit()
        assert stamps.current(shop.store_id) != before  # the write committed: its pages must go
        assert settings.get("low_stock_threshold") == 12


def test_a_root_rollback_with_savepoints_open_drops_the_pending_stamp(app, shop):
    from mallow import settings
    from mallow.db import db
    from mallow.tenants import stamps
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        before = stamps.current(shop.store_id)
        settings.put("low_stock_threshold", 13)
        db.session.begin_nested()
        db.session.begin_nested()
        db.session.rollback()
        db.session.commit()
        assert stamps.current(shop.store_id) == before


def test_kept_sessions_are_forgotten_at_the_commit_not_at_a_savepoint(app, shop):
    from mallow.accounts import session_memory
    from mallow.db import db
    from mallow.tenants import stamps
    from mallow.tenants.context import store_context

    name = session_memory.stamp_name(shop.store_id)
    with store_context(shop.store_id, app=app):
        before = stamps.named(name)
        session_memory.forget_after_commit(db.session())  # a sign-out, say
        db.session.begin_nested().commit()
        assert stamps.named(name) == before  # the revoke is not committed: the session still stands
        db.session.begin_nested().rollback()
        db.session.commit()
        assert stamps.named(name) != before  # committed: no process keeps the revoked session


def test_an_analytics_event_is_handed_over_at_the_commit_and_survives_a_savepoint(app, shop, monkeypatch):
    from mallow.analytics import recording
    from mallow.analytics.buffer import buffer_of
    from mallow.db import db
    from mallow.tenants.context import store_context

    handed: list[tuple[int, dict]] = []
    monkeypatch.setattr(buffer_of(app), "add", lambda store_id, row: handed.append((store_id, row)))
    with store_context(shop.store_id, app=app):
        recording.mallow_order_placed(SimpleNamespace(id=7, customer_id=3, total=1500), None)
        db.session.begin_nested().commit()
        assert handed == []  # the order is not committed yet
        with pytest.raises(RuntimeError), db.session.begin_nested():
            raise RuntimeError("a plugin's guarded call failed")
        db.session.commit()
    assert [(store_id, row["order_id"], row["amount"]) for store_id, row in handed] == [(shop.store_id, 7, 1500)]


def test_notification_jobs_are_queued_at_the_commit_not_at_a_savepoint(app, monkeypatch):
    """A qualification decision's job is queued once the decision is committed, and an order's
    ``paid`` event noted before a savepoint still becomes a notification at the commit."""
    import sqlalchemy as sa

    from mallow import audit
    from mallow.db import db
    from mallow.notifications.models import Notification
    from mallow.orders.models import OrderEvent
    from mallow.testing import JobRecorder
    from mallow.tenants.context import store_context

    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃", price=1500, stock=10)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    jobs = JobRecorder()
    monkeypatch.setitem(app.extensions, "mallow.jobs", jobs)
    with store_context(shop.store_id, app=app):
        db.session.add(OrderEvent(order_id=order["id"], kind="paid", actor="test", detail={}))
        audit.record("qualification.approved", store_id=shop.store_id, target="qualification:5")
        db.session.flush()
        db.session.begin_nested().commit()
        with pytest.raises(RuntimeError), db.session.begin_nested():
            raise RuntimeError("a plugin's guarded call failed")
        assert jobs.queued == []  # nothing is committed: the job would read the old rows
        db.session.commit()
        written = db.session.execute(sa.select(Notification.event).where(Notification.event == "order_paid")).all()
    assert len(written) == 1
    assert jobs.queued == [
        (
            "notifications.qualification_decided",
            {"store_id": shop.store_id, "qualification_id": 5, "outcome": "approved"},
        )
    ]


def test_a_setting_written_in_a_rolled_back_savepoint_is_not_read_back(app, shop):
    """The settings read cache is dropped at *every* rollback, savepoints too: it may hold what
    the savepoint wrote (why its listener is not an outcome listener)."""
    from mallow import settings
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        before = settings.get("auto_complete_days")
        savepoint = db.session.begin_nested()
        settings.put("auto_complete_days", before + 1)
        assert settings.get("auto_complete_days") == before + 1
        savepoint.rollback()
        assert settings.get("auto_complete_days") == before
