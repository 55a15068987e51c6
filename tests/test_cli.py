"""The `mallow` command: demo data (the store, its plugins and pages) and admins."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from mallow.cli import main
from mallow.testing import backend_params, build_app, dispose_app


def _run(app, *args, **kwargs):
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), **kwargs)


@pytest.fixture(scope="module", params=backend_params())
def demo(request, tmp_path_factory):
    """A fresh app on each backend (plugins can be loaded only before an app's first request, so
    not in the session's shared one) on which `mallow demo` ran twice: (app, first, second output)."""
    app = build_app(tmp_path_factory, request.param)
    first, second = _run(app, "demo"), _run(app, "demo")
    yield app, first, second
    dispose_app(app)


def _count(app, model, **where) -> int:
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow.tenants.models import Store

    with app.app_context():
        store_id = db.session.execute(db.select(Store.id).filter_by(slug="demo")).scalar_one()
    with store_context(store_id, app):
        return db.session.execute(db.select(db.func.count()).select_from(model).filter_by(**where)).scalar()


def _printed(output: str, label: str) -> str:
    """The path of the URL that `mallow demo` printed after ``label``."""
    match = re.search(rf"^  {label} +http://127\.0\.0\.1:5000(/\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_demo_is_idempotent_and_prints_logins(demo):
    app, first, second = demo
    assert first.exit_code == 0, first.output
    assert "admin@mallow.demo" in first.output and "/s/demo/" in first.output
    assert second.exit_code == 0, second.output
    client = app.test_client()
    assert client.get("/s/demo/").status_code == 200  # approved and open
    response = client.post("/api/tokens", json={"email": "merchant@mallow.demo", "password": "mallow-demo-2026"})
    assert response.status_code == 201
    with app.app_context():
        from mallow.db import db
        from mallow.tenants.models import Store

        assert db.session.execute(db.select(db.func.count()).select_from(Store).filter_by(slug="demo")).scalar() == 1


def test_demo_twice_seeds_each_showcase_thing_once(demo):
    from mallow.audit import AuditEntry
    from mallow.builder.models import Page, PageVersion
    from mallow.db import db
    from mallow.media.models import MediaAsset
    from mallow.plugins.models import StorePlugin
    from mallow_flashsale.models import Sale
    from mallow_groupbuy.models import Campaign

    app, first, second = demo
    for output in (first.output, second.output):
        assert "plugins enabled in the demo store: groupbuy, flashsale, distribution" in output
        assert _printed(output, "landing page") == "/s/demo/p/new-year"
    assert _printed(first.output, "group buy") == _printed(second.output, "group buy")
    assert _count(app, Campaign) == 1 and _count(app, Sale) == 1
    assert _count(app, Page, kind="landing") == 1 and _count(app, PageVersion) == 2  # home and landing, once each
    assert _count(app, MediaAsset) == 12 * 2 + 3  # the product photos and three banners
    with app.app_context():
        assert (
            db.session.execute(db.select(db.func.count()).select_from(StorePlugin).filter_by(enabled=True)).scalar()
            == 3
        )
        assert (
            db.session.execute(
                db.select(db.func.count()).select_from(AuditEntry).filter_by(action="plugin.enabled")
            ).scalar()
            == 3
        )  # not enabled again


def test_demo_home_is_the_built_page_with_the_group_buy_and_the_countdown(demo):
    app, first, _second = demo
    home = app.test_client().get("/s/demo/").get_data(as_text=True)
    for block in (
        "search_bar",
        "carousel",
        "notice_bar",
        "flashsale_countdown",
        "groupbuy_list",
        "product_grid",
        "store_info",
    ):
        assert f'data-block-type="{block}"' in home, block
    assert home.count("/s/demo/library/") >= 3  # the banners, from the store's media library
    assert "山核桃仁 3 人拼团" in home and _printed(first.output, "group buy") in home
    assert "碧根果·小香薯 限时秒杀" in home and "data-fs-ends=" in home
    assert "91350100M000100Y43" in home  # the store's licence


def test_demo_plugin_pages_and_the_landing_page_answer(demo):
    app, first, _second = demo
    client = app.test_client()
    group_buy = client.get(_printed(first.output, "group buy"))
    assert group_buy.status_code == 200 and "山核桃仁 3 人拼团" in group_buy.get_data(as_text=True)
    sale_path = _printed(first.output, "flash sale")
    sale = client.get(sale_path)
    assert sale.status_code == 200 and "碧根果·小香薯 限时秒杀" in sale.get_data(as_text=True)
    facts = client.get(sale_path.replace("/x/flashsale/", "/api/x/flashsale/sales/")).get_json()
    assert facts["state"] == "live" and all(0 < item["remaining"] <= item["quota"] for item in facts["items"])
    landing = client.get(_printed(first.output, "landing page"))
    text = landing.get_data(as_text=True)
    assert landing.status_code == 200 and "新春年货节" in text and 'data-block-type="distribution_entry"' in text


def test_demo_shopper_is_an_approved_distributor(demo):
    app, first, _second = demo
    client = app.test_client()
    token = client.post("/s/demo/api/tokens", json={"login": "13800000000", "password": "mallow-demo-2026"}).get_json()
    me = client.get("/s/demo/api/x/distribution/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.status_code == 200 and me.get_json()["distributor"]["status"] == "approved"
    assert _printed(first.output, "distribution") == "/s/demo/x/distribution/"


def test_create_admin_checks_its_input(app):
    bad = _run(app, "create-admin", "--email", "nope", "--password", "admin-pass-1")
    assert bad.exit_code != 0 and "e-mail" in bad.output
    ok = _run(app, "create-admin", "--email", "Ops@Example.com", "--password", "admin-pass-1")
    assert ok.exit_code == 0, ok.output
    client = app.test_client()
    response = client.post(
        "/api/tokens", json={"email": "ops@example.com", "password": "admin-pass-1", "principal": "admin"}
    )
    assert response.status_code == 201


def test_worker_without_redis_explains_itself(app):
    result = _run(app, "worker", "--burst")
    assert result.exit_code != 0 and "REDIS_URL" in result.output
