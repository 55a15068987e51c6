"""What a plugin reaches through the SDK's session: the active store's tables only, core ones as
its manifest's permissions say, its own with ``tables``; never the platform's, another store's or
another plugin's. Each refusal names the plugin and the table, runs nothing and is logged."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from mallow.accounts.models import Customer, Merchant
from mallow.db import db
from mallow.orders.models import Order, OrderEvent
from mallow.sdk import StoreAccessRefused
from mallow.tenants.context import store_context
from mallow.tenants.models import Store
from mallow.sdk.testing import run_job
from mallow.testing import backend_params, dispose_app, enable_plugin, make_shopper, make_store, plugin_app

#: a plugin that hands whatever the test gives it to the SDK's session, as its own code would
PROBE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import add_order_event, current_store, db, plugin_model_base

Base = plugin_model_base("{name}")


class Note(Base):
    __tablename__ = "{name}_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(40))


def run(statement):
    return db.session.execute(statement).all()


def get(model, ident):
    return db.session.get(model, ident)


def add(row):
    db.session.add(row)
    db.session.flush()


def notes():
    db.session.add(Note(text="mine"))
    db.session.flush()
    return db.session.scalars(sa.select(Note.text)).all()


def event(order_id):
    add_order_event(order_id, "{name}_noted", note="hello")


def store():
    return current_store()
"""


@pytest.fixture(scope="module", params=backend_params())
def world(request, tmp_path_factory, fake_plugins):
    fake_plugins.add("reach_probe", PROBE.format(name="reach_probe"), permissions=["tables"])
    fake_plugins.add("reach_reader", PROBE.format(name="reach_reader"), permissions=["tables", "customers", "orders"])
    fake_plugins.add("reach_other", PROBE.format(name="reach_other"), permissions=["tables"])
    app = plugin_app(tmp_path_factory, request.param, ["reach_probe", "reach_reader", "reach_other"])
    mine, theirs = make_store(app), make_store(app)
    for shop in (mine, theirs):
        for name in ("reach_probe", "reach_reader", "reach_other"):
            enable_plugin(app, shop, name)
    make_shopper(app.test_client(), mine)
    with store_context(mine.store_id, app=app):
        shopper = db.session.execute(sa.select(Customer.id)).scalar_one()
    yield app, mine, theirs, shopper
    dispose_app(app)


def probe(name="reach_probe"):
    import importlib

    return importlib.import_module(f"mallow_{name}")


def refused(app, shop, call, *, name="reach_probe"):
    with store_context(shop.store_id, app=app), pytest.raises(StoreAccessRefused) as caught:
        call(probe(name))
    assert caught.value.plugin == name
    return caught.value


@pytest.mark.parametrize(
    "statement",
    [
        lambda: sa.select(Store),
        lambda: sa.select(Merchant.password_hash),
        lambda: sa.select(sa.table("merchants", sa.column("password_hash"))),
        lambda: sa.text("select password_hash from merchants"),
        lambda: sa.select(Order.id).where(sa.text("1 = 1")),
        lambda: sa.select(sa.literal_column("(select password_hash from merchants)")),
        lambda: sa.select(Order.id).suffix_with("union select id from merchants"),
    ],
)
def test_platform_tables_and_raw_sql_are_refused(world, statement, caplog):
    app, mine, _theirs, _shopper = world
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        error = refused(app, mine, lambda plugin: plugin.run(statement()), name="reach_reader")
    assert "reach_reader" in str(error)
    assert any("reach_reader" in record.getMessage() for record in caplog.records)


def test_platform_rows_by_model_are_refused(world):
    app, mine, _theirs, _shopper = world
    error = refused(app, mine, lambda plugin: plugin.get(Merchant, 1))
    assert error.table == "merchants"


def test_another_stores_tables_are_refused(world):
    app, mine, theirs, _shopper = world
    other = f"store_{theirs.store_id}"
    statements = [
        sa.select(sa.Table("orders", sa.MetaData(schema=other), sa.Column("id", sa.Integer))),
        sa.select(Order.id).execution_options(schema_translate_map={"store": other}),
    ]
    if app.mallow_backend == "postgresql":
        statements.append(sa.text(f"select * from {other}.orders"))
    else:
        statements.append(sa.text("ATTACH DATABASE 'elsewhere.db' AS other"))
    for statement in statements:
        refused(app, mine, lambda plugin, statement=statement: plugin.run(statement), name="reach_reader")


def test_another_plugins_tables_are_refused(world):
    app, mine, _theirs, _shopper = world
    other = probe("reach_other")
    error = refused(app, mine, lambda plugin: plugin.run(sa.select(other.Note)))
    assert error.table == "reach_other_notes" and "reach_other" in error.reason
    refused(app, mine, lambda plugin: plugin.add(other.Note(text="not mine")))


def test_core_tables_need_the_permission_and_are_read_only(world):
    app, mine, _theirs, shopper = world
    error = refused(app, mine, lambda plugin: plugin.run(sa.select(Customer.id)))
    assert error.table == "customers" and "'customers'" in str(error)
    refused(app, mine, lambda plugin: plugin.get(Customer, shopper))
    with store_context(mine.store_id, app=app):
        rows = probe("reach_reader").run(sa.select(Customer.id))
        assert (shopper,) in rows
        assert probe("reach_reader").get(Customer, shopper).id == shopper
    # even with the permission, core rows change through the SDK's functions only
    refused(app, mine, lambda plugin: plugin.run(sa.update(Customer).values(nickname="x")), name="reach_reader")
    refused(
        app, mine, lambda plugin: plugin.add(OrderEvent(order_id=1, kind="x", actor="wechatpay")), name="reach_reader"
    )


def test_own_tables_and_order_events_through_the_sdk(world):
    app, mine, _theirs, _shopper = world
    with store_context(mine.store_id, app=app):
        assert probe("reach_probe").notes() == ["mine"]
        with pytest.raises(StoreAccessRefused):  # an order's timeline needs "orders"
            probe("reach_probe").event(1)


def test_the_store_a_plugin_sees_leads_nowhere_else(world):
    app, mine, _theirs, _shopper = world
    with store_context(mine.store_id, app=app):
        store = probe().store()
        assert (store.id, store.slug, store.is_open) == (mine.store_id, mine.slug, True)
        assert not hasattr(store, "owner") and not hasattr(store, "owner_id")


#: a plugin whose job goes through "library" code (no plugin module on the stack): the job still
#: runs as its plugin, so the session still holds it to its permissions
JOBS = '''
from mallow.sdk import hookimpl

LIBRARY = """
def peek(store):
    import sqlalchemy as sa
    from mallow.sdk import Customer, db
    return db.session.execute(sa.select(Customer.id)).all()
"""
library = {"__name__": "some_library"}
exec(LIBRARY, library)


@hookimpl
def mallow_register_jobs(register):
    register("reach_jobs.peek", library["peek"])
'''


def test_a_plugins_job_runs_as_the_plugin(tmp_path_factory, fake_plugins):
    fake_plugins.add("reach_jobs", JOBS, permissions=["jobs"], hooks=["mallow_register_jobs"])
    app = plugin_app(tmp_path_factory, "sqlite", ["reach_jobs"])
    try:
        shop = make_store(app)
        enable_plugin(app, shop, "reach_jobs")
        with pytest.raises(StoreAccessRefused) as caught:
            run_job(app, "reach_jobs.peek", store_id=shop.store_id)
        assert (caught.value.plugin, caught.value.table) == ("reach_jobs", "customers")
    finally:
        dispose_app(app)
