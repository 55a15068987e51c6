"""The guard's savepoint around a plugin's hook call (:mod:`mallow.plugins.guard`): one the
plugin left untouched (no statement, nothing pending) is closed without running the session's
commit listeners, and every other keeps its guarantees: a failing plugin's writes go (flushed,
pending, or released from a savepoint of its own), the caller's stay, a successful plugin's
pending writes are kept, and a savepoint the plugin left open is ended with the guard's."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from mallow.testing import backend_params, dispose_app, enable_plugin, make_store, plugin_app

NAME = "guard_cost"
CODE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import db, hookimpl, plugin_model_base

Base = plugin_model_base("guard_cost")
#: what mallow_order_paid does (set by the tests)
MODE = {"mode": "nothing"}


class Mark(Base):
    __tablename__ = "guard_cost_marks"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(40))


@hookimpl
def mallow_order_paid(order):
    mode = MODE["mode"]
    if mode == "nothing":
        return None
    if mode == "own_savepoint_released_then_raise":
        with db.session.begin_nested():
            db.session.add(Mark(text="plugin"))
        raise RuntimeError("after its own savepoint")
    if mode == "own_savepoint_left_open":
        db.session.begin_nested()
        return None
    db.session.add(Mark(text="plugin"))
    if mode in ("write", "write_then_raise"):
        db.session.flush()
    if mode.endswith("_then_raise"):
        raise RuntimeError(mode)
    return None
"""


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(NAME, CODE, title={"zh_CN": "守卫", "en": "Guard"}, permissions=["tables"])
    app = plugin_app(tmp_path_factory, request.param, [NAME], MALLOW_PLUGIN_BREAKER_FAULTS=10_000)
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def shop(app):
    shop = make_store(app)
    enable_plugin(app, shop, NAME)
    return shop


@pytest.fixture
def plugin():
    module = __import__(f"mallow_{NAME}")
    yield module
    module.MODE["mode"] = "nothing"


def _paid_with(app, shop, plugin, mode: str) -> dict:
    """The caller writes a mark, the hook runs in ``mode``, the caller commits: what was kept,
    and how often the session's ``after_commit`` listeners ran before that commit."""
    from mallow.db import db
    from mallow.plugins import guard
    from mallow.plugins.manager import hooks, plugin_key
    from mallow.tenants.context import store_context

    plugin.MODE["mode"] = mode
    commits = []
    with store_context(shop.store_id, app=app), app.test_request_context():
        db.session.execute(sa.delete(plugin.Mark))
        db.session.add(plugin.Mark(text="caller"))
        db.session.flush()
        sa.event.listen(db.session(), "after_commit", commits.append)
        [impl] = [i for i in hooks().mallow_order_paid.get_hookimpls() if i.plugin_name == plugin_key(NAME)]
        guard.call(impl, "mallow_order_paid", {"order": None})  # the plugin's implementation alone
        assert not db.session().in_nested_transaction()  # the guard's savepoint is over, and the plugin's
        early = len(commits)
        db.session.commit()
        kept = sorted(db.session.scalars(sa.select(plugin.Mark.text)))
    return {"kept": kept, "commits_before": early}


def test_an_untouched_savepoint_is_closed_without_the_commit_listeners(app, shop, plugin):
    assert _paid_with(app, shop, plugin, "nothing") == {"kept": ["caller"], "commits_before": 0}


def test_a_plugins_writes_are_kept_when_it_succeeds(app, shop, plugin):
    assert _paid_with(app, shop, plugin, "write")["kept"] == ["caller", "plugin"]
    # pending, not flushed: flushed into its savepoint as the guard releases it
    assert _paid_with(app, shop, plugin, "add")["kept"] == ["caller", "plugin"]


@pytest.mark.parametrize("mode", ["write_then_raise", "add_then_raise", "own_savepoint_released_then_raise"])
def test_a_failing_plugins_writes_go_and_the_callers_stay(app, shop, plugin, mode, caplog):
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        assert _paid_with(app, shop, plugin, mode)["kept"] == ["caller"]
    assert any(f"plugin {NAME} failed in mallow_order_paid" in r.getMessage() for r in caplog.records)


def test_a_savepoint_the_plugin_left_open_ends_with_the_guards(app, shop, plugin):
    assert _paid_with(app, shop, plugin, "own_savepoint_left_open")["kept"] == ["caller"]
