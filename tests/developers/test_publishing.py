"""A developer publishes a plugin: version 1 is reviewed, approved, installed into the plugin
environment and enabled in a store; version 2 with a changed file waits for review while
version 1 keeps running, and runs from the next reload after its approval."""

from __future__ import annotations

import re

import pytest

from mallow.testing import (
    bearer,
    dispose_app,
    enable_plugin,
    login_admin,
    make_product,
    make_shopper,
    make_store,
    plugin_app,
    post_form,
    restart_app,
)

from .conftest import forget_plugin_environment, signup_developer, unique_name, upload, wheel_bytes

PLUGIN = """
from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_order_adjustments(context, subtotal):
    return [Adjustment("order", "{name}", "{code}", "{label}", {amount})]
"""


def plugin_code(name: str, version: int) -> str:
    return PLUGIN.format(name=name, code=f"v{version}", label=f"第{version}版立减", amount=-100 * version)


def _release(app, name, version):
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    with app.app_context():
        release = db.session.execute(db.select(PluginRelease).filter_by(name=name, version=version)).scalar_one()
        db.session.expunge(release)
        return release


def _audit(app, action, target):
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return db.session.execute(db.select(AuditEntry).filter_by(action=action, target=target)).scalars().all()


def review_and_approve(app, release_id: int, admin_email: str) -> str:
    """A platform admin reads the release's review page and approves it with its form (which
    carries the digest of the files shown); returns the page they read."""
    client = app.test_client()
    login_admin(client, admin_email)
    page = client.get(f"/admin/plugins/{release_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    digest = re.search(r'name="files_digest" value="([^"]*)"', text).group(1)
    response = post_form(
        client,
        f"/admin/plugins/{release_id}/approve",
        {"reason": "代码已审阅", "files_digest": digest},
        form_path=f"/admin/plugins/{release_id}",
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return text


def quote_total(app, shop, sku):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    response = client.post(
        f"{shop.prefix}/api/checkout/quote", headers=bearer(token), json={"items": [{"sku_id": sku, "quantity": 1}]}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["total"]


def _admin_email(app):
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db

    with app.app_context():
        return db.session.execute(db.select(PlatformAdmin.email).limit(1)).scalar()


@pytest.fixture
def platform(backend, tmp_path_factory):
    apps = []

    def start(app=None):
        started = plugin_app(tmp_path_factory, backend, []) if app is None else restart_app(app)
        apps.append(started)
        return started

    yield start
    forget_plugin_environment(apps[0])
    for app in apps[1:]:
        dispose_app(app, drop_database=False)
    dispose_app(apps[0])


def test_version_one_runs_until_version_two_is_approved(platform):
    app = platform()
    admin = _admin_email(app)
    name = unique_name()
    developer = app.test_client()
    _email, token = signup_developer(developer)

    # the developer publishes version 1 through the API; it waits for review
    response = upload(developer, token, *wheel_bytes(name, "1.0.0", plugin_code(name, 1), permissions=["pricing"]))
    assert response.status_code == 201, response.get_json()
    first = response.get_json()["release"]
    assert (first["status"], first["version"]) == ("submitted", "1.0.0")
    assert _audit(app, "plugin.submitted", f"plugin:{name}@1.0.0")

    # a platform admin approves it: it is installed into the plugin environment, not loaded yet
    review_and_approve(app, first["id"], admin)
    assert _audit(app, "plugin.installed", f"plugin:{name}@1.0.0")
    assert name not in app.extensions["mallow.loaded_plugins"]

    # the next reload loads it; a merchant enables it and its hook runs in the store
    running = platform(app)
    assert running.extensions["mallow.loaded_plugins"][name].version == "1.0.0"
    shop, other = make_store(running), make_store(running)
    [sku] = make_product(running, shop, price=5000)
    enable_plugin(running, shop, name)
    assert quote_total(running, shop, sku) == 5000 - 100

    # version 2 changes __init__.py and adds a file: the developer and the reviewer see the change
    response = upload(
        developer,
        token,
        *wheel_bytes(name, "2.0.0", plugin_code(name, 2), files={"rules.py": "LIMIT = 2\n"}, permissions=["pricing"]),
    )
    assert response.status_code == 201, response.get_json()
    second = response.get_json()["release"]
    assert second["changes"]["base"] == "1.0.0"
    assert second["changes"]["changed"] == [f"mallow_{name}/__init__.py", f"mallow_{name}/plugin.json"]
    assert second["changes"]["added"] == [f"mallow_{name}/rules.py"]
    page = developer.get(f"/dev/releases/{second['id']}").get_data(as_text=True)
    assert f"mallow_{name}/__init__.py" in page and f"mallow_{name}/rules.py" in page

    # until it is approved, version 1 stays installed and keeps running, also after a reload
    assert quote_total(running, shop, sku) == 5000 - 100
    forget_plugin_environment(running)
    reloaded = platform(running)
    assert reloaded.extensions["mallow.loaded_plugins"][name].version == "1.0.0"
    assert quote_total(reloaded, shop, sku) == 5000 - 100

    # the reviewer sees the changed and the added file; approved, it is installed now, and the
    # running app keeps the version it loaded
    review = review_and_approve(reloaded, second["id"], admin)
    since = review[review.index('id="since-approved"') : review.index('id="findings"')]
    assert f"mallow_{name}/__init__.py" in since and f"mallow_{name}/rules.py" in since
    assert _audit(reloaded, "plugin.installed", f"plugin:{name}@2.0.0")
    assert quote_total(reloaded, shop, sku) == 5000 - 100

    # the next graceful reload (a new process) runs version 2
    forget_plugin_environment(reloaded)
    upgraded = platform(reloaded)
    assert upgraded.extensions["mallow.loaded_plugins"][name].version == "2.0.0"
    assert quote_total(upgraded, shop, sku) == 5000 - 200

    # the developer sees how many stores enabled it, never which
    home = developer.get("/dev/").get_data(as_text=True)
    assert 'data-stores="1"' in home
    assert shop.slug not in home and other.slug not in home
    listing = developer.get("/dev/api/releases", headers=bearer(token)).get_json()
    assert listing["stores"] == {name: 1}
    assert [(r["version"], r["status"]) for r in listing["releases"]] == [("2.0.0", "approved"), ("1.0.0", "approved")]
