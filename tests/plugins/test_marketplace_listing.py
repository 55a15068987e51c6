"""The merchant's marketplace listing: what a store's owner sees of a plugin before turning it on
(title, description, author, permissions in words, versions, how many stores use it, screenshots
served only as the manifest lists them), and why a plugin is off when somebody else switched it
off (the circuit breaker: the merchant may turn it on again; the platform: they may not)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    login_merchant,
    make_store,
    merchant_token,
    plugin_app,
    png_bytes,
    post_form,
    restart_app,
)

CODE = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_template_slot(slot, context):
    return None
"""
HOOKS = ["mallow_template_slot"]
PNG = png_bytes((120, 240), "#2a9d8f")


def _install(fake_plugins, name: str, version: str, title, screenshots: list[str] | None = None):
    folder = fake_plugins.add(name, CODE, version=version, title=title, hooks=HOOKS, permissions=["pricing", "orders"])
    manifest = json.loads((folder / "plugin.json").read_text(encoding="utf-8"))
    manifest.update(
        author="山核桃工作室", description={"zh_CN": "满 200 减 20，购物车里提示还差多少。", "en": "Spend more."}
    )
    if screenshots is not None:
        manifest["screenshots"] = screenshots
    (folder / "plugin.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if not fake_plugins.packages:
        folder = _install(
            fake_plugins,
            "fake_market",
            "1.2.0",
            {"zh_CN": "满减助手", "en": "Spend and save"},
            ["screenshots/cart.png", "screenshots/fake.png", "screenshots/notes.txt", "../outside.png", "missing.png"],
        )
        (folder / "screenshots").mkdir()
        (folder / "screenshots" / "cart.png").write_bytes(PNG)
        (folder / "screenshots" / "fake.png").write_text("<svg onload=alert(1)>", encoding="utf-8")  # not a PNG
        (folder / "screenshots" / "notes.txt").write_text("notes", encoding="utf-8")
        (folder / "screenshots" / "secret.png").write_bytes(PNG)  # not listed
        (folder.parent / "outside.png").write_bytes(PNG)
        _install(fake_plugins, "fake_flaky", "0.3.0", "抖动插件")
        _install(fake_plugins, "fake_gone", "0.5.0", "下架插件")
    app = plugin_app(tmp_path_factory, request.param, ["fake_market", "fake_flaky", "fake_gone"])
    _record_history(app)
    yield app
    dispose_app(app)


def _record_history(app):
    """fake_market's earlier versions: 1.0.0 approved, 1.1.0 approved then withdrawn, 0.9.0
    rejected, 1.3.0 waiting for review (1.2.0, installed, is approved by the kit)."""

    from mallow.audit import AuditEntry
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    def at(day: str) -> datetime:
        return datetime.fromisoformat(day).replace(tzinfo=UTC)

    with app.app_context():
        for version, status, reviewed in [
            ("1.0.0", "approved", "2024-03-01"),
            ("1.1.0", "withdrawn", "2024-06-01"),
            ("0.9.0", "rejected", "2024-02-01"),
            ("1.3.0", "submitted", None),
        ]:
            db.session.add(
                PluginRelease(
                    name="fake_market",
                    version=version,
                    manifest={"name": "fake_market", "version": version},
                    status=status,
                    reviewed_at=at(reviewed) if reviewed else None,
                )
            )
        db.session.add(
            AuditEntry(
                actor_kind="admin", action="plugin.approved", target="plugin:fake_market@1.1.0", at=at("2024-05-02")
            )
        )
        db.session.commit()


def _t(app, msgid: str, plural: str | None = None, n: int | None = None, **values) -> str:
    """``msgid`` as the console shows it (Chinese where the catalogue has it)."""
    from flask_babel import force_locale, gettext, ngettext

    with app.test_request_context("/"), force_locale("zh_CN"):
        return ngettext(msgid, plural, n, **values) if plural else gettext(msgid, **values)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _store_count(app, name: str) -> int:
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    with app.app_context():
        query = sa.select(sa.func.count()).where(StorePlugin.name == name, StorePlugin.enabled.is_(True))
        return db.session.execute(query).scalar_one()


def _set_row(app, shop, name: str, **values) -> None:
    """What another part of the platform writes on a store's switch (the breaker, a withdraw)."""
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    with app.app_context():
        db.session.execute(
            sa.update(StorePlugin)
            .where(StorePlugin.store_id == shop.store_id, StorePlugin.name == name)
            .values(**values)
        )
        db.session.commit()


def _row(app, shop, name: str):
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    with app.app_context():
        row = db.session.execute(
            sa.select(StorePlugin).where(StorePlugin.store_id == shop.store_id, StorePlugin.name == name)
        ).scalar_one()
        db.session.expunge(row)
        return row


def test_the_listing_shows_each_plugin_in_words_with_how_many_stores_use_it(app):
    others = [make_store(app), make_store(app)]
    for other in others:
        enable_plugin(app, other, "fake_market")
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    html = client.get(f"{shop.prefix}/console/plugins").get_data(as_text=True)
    card = html.split('id="plugin-fake_market"')[1].split("</section>")[0]
    text = _text(card)
    assert "满减助手" in text and "满 200 减 20" in text and "山核桃工作室" in text and "1.2.0" in text
    assert _t(app, "Change prices in checkout") in text and _t(app, "Off") in text
    count = _store_count(app, "fake_market")
    assert count >= 2
    assert _t(app, "%(num)d store uses it", "%(num)d stores use it", count) in text
    assert f'href="{shop.prefix}/console/plugins/fake_market/about"' in card
    for other in others:  # how many, never which
        assert other.slug not in html
    # the JSON listing says the same
    items = {
        p["name"]: p
        for p in client.get(
            f"{shop.prefix}/api/console/plugins", headers=bearer(merchant_token(client, shop))
        ).get_json()["items"]
    }
    market = items["fake_market"]
    assert market["store_count"] == count and market["available"] is True and market["disabled_reason"] is None
    assert market["title"] == "满减助手" and [p["code"] for p in market["permissions"]] == ["pricing", "orders"]
    assert market["screenshots"] == [
        f"{shop.prefix}/console/plugins/fake_market/screenshots/screenshots/cart.png?v=1.2.0"
    ]


def test_the_detail_page_shows_screenshots_permissions_versions_and_turns_it_on(app):
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    about = f"{shop.prefix}/console/plugins/fake_market/about"
    page = client.get(about)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    shots = re.findall(r'<img src="([^"]+)"', html)
    assert shots == [f"{shop.prefix}/console/plugins/fake_market/screenshots/screenshots/cart.png?v=1.2.0"]
    switch = _text(html.split('id="plugin-switch"')[1].split("</section>")[0])
    assert _t(app, "Once it is on, it may:") in switch
    assert (
        _t(app, "Change prices in checkout") in switch
        and _t(app, "Read this store's orders and follow their lifecycle") in switch
    )
    versions = re.findall(r'<tr data-version="([^"]+)"><td>[^<]*</td>\s*<td>([^<]*)</td>', html)
    assert [v for v, _day in versions] == ["1.2.0", "1.1.0", "1.0.0"]  # newest first
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", versions[0][1])  # when the platform approved it
    assert versions[1:] == [("1.1.0", "2024-05-02"), ("1.0.0", "2024-03-01")]  # approved, not withdrawn, on
    assert (
        "0.9.0" not in html and "1.3.0" not in html
    )  # rejected and submitted ones stay between developer and platform
    assert _t(app, "Withdrawn by the platform") in _text(html.split('data-version="1.1.0"')[1].split("</tr>")[0])
    # the JSON detail has the same history
    detail = client.get(
        f"{shop.prefix}/api/console/plugins/fake_market", headers=bearer(merchant_token(client, shop))
    ).get_json()
    assert [(r["version"], r["status"]) for r in detail["releases"]] == [
        ("1.2.0", "approved"),
        ("1.1.0", "withdrawn"),
        ("1.0.0", "approved"),
    ]
    assert detail["releases"][1]["approved_at"].startswith("2024-05-02")
    # turning it on from its page comes back to its page, now on
    before = _store_count(app, "fake_market")
    on = post_form(client, f"{shop.prefix}/console/plugins/fake_market/enable", {"back": "about"}, form_path=about)
    assert on.status_code == 303 and on.headers["Location"].endswith(about)
    after = client.get(about).get_data(as_text=True)
    assert 'data-enabled="yes"' in after and _t(app, "%(title)s is on in your store.", title="满减助手") in after
    assert _store_count(app, "fake_market") == before + 1


def test_screenshots_are_served_only_as_the_manifest_lists_them(app):
    shop = make_store(app)
    client = app.test_client()
    base = f"{shop.prefix}/console/plugins/fake_market/screenshots"
    assert client.get(f"{base}/screenshots/cart.png").status_code in (302, 303, 401)  # signed-in staff only
    login_merchant(client, shop)
    shot = client.get(f"{base}/screenshots/cart.png?v=1.2.0")
    assert shot.status_code == 200 and shot.data == PNG
    assert shot.mimetype == "image/png" and shot.headers["X-Content-Type-Options"] == "nosniff"
    for path in [
        "screenshots/fake.png",  # listed, but not a picture
        "screenshots/notes.txt",  # listed, not an image type
        "screenshots/secret.png",  # a picture, not listed
        "plugin.json",
        "__init__.py",
        "../outside.png",
        "..%2Foutside.png",
        "missing.png",
    ]:
        assert client.get(f"{base}/{path}").status_code == 404, path
    assert client.get(f"{shop.prefix}/console/plugins/no_such/screenshots/screenshots/cart.png").status_code == 404
    # another store's owner reads nothing here
    stranger = app.test_client()
    login_merchant(stranger, make_store(app))
    assert stranger.get(f"{base}/screenshots/cart.png").status_code == 403


def test_the_merchant_off_switch_says_who_and_turning_on_clears_it(app):
    shop = make_store(app)
    client = app.test_client()
    headers = bearer(merchant_token(client, shop))
    api = f"{shop.prefix}/api/console/plugins/fake_market"
    assert client.post(f"{api}/enable", json={}, headers=headers).get_json()["disabled_reason"] is None
    off = client.post(f"{api}/disable", headers=headers).get_json()
    assert off["enabled"] is False and off["disabled_reason"] == "merchant" and off["available"] is True
    assert _row(app, shop, "fake_market").disabled_at is not None
    on = client.post(f"{api}/enable", json={}, headers=headers).get_json()
    assert on["enabled"] is True and on["disabled_reason"] is None
    row = _row(app, shop, "fake_market")
    assert row.disabled_reason is None and row.disabled_at is None


def test_after_a_circuit_breaker_stop_the_merchant_reads_why_and_may_turn_it_on_again(app):
    shop = make_store(app)
    enable_plugin(app, shop, "fake_flaky")
    _set_row(
        app,
        shop,
        "fake_flaky",
        enabled=False,
        disabled_reason="circuit_breaker",
        disabled_detail={
            "hook": "mallow_template_slot",
            "kind": "error",
            "count": 5,
            "last_message": "购物车提示算错了",
        },
        disabled_at=datetime.now(UTC),
    )
    client = app.test_client()
    login_merchant(client, shop)
    html = client.get(f"{shop.prefix}/console/plugins").get_data(as_text=True)
    card = html.split('id="plugin-fake_flaky"')[1].split("</section>")[0]
    notice = _t(
        app,
        "This plugin kept failing, so the platform switched it off in your store (last: %(last)s). "
        "You may turn it on again; if it keeps failing, contact its developer.",
        last=_t(app, "it raised an error") + "：购物车提示算错了",
    )
    assert notice in _text(card)
    assert 'data-reason="circuit_breaker"' in card and "mallow_template_slot" not in card  # no raw hook names
    listed = client.get(f"{shop.prefix}/api/console/plugins/fake_flaky", headers=bearer(merchant_token(client, shop)))
    body = listed.get_json()
    assert (
        body["disabled_reason"] == "circuit_breaker"
        and body["available"] is True
        and "购物车提示算错了" in body["notice"]
    )
    on = post_form(
        client, f"{shop.prefix}/console/plugins/fake_flaky/enable", {}, form_path=f"{shop.prefix}/console/plugins"
    )
    assert on.status_code == 303
    row = _row(app, shop, "fake_flaky")
    assert row.enabled and row.disabled_reason is None and row.disabled_detail is None and row.disabled_at is None


def test_a_plugin_the_platform_switched_off_in_the_store_cannot_be_turned_on_by_the_merchant(app):
    shop = make_store(app)
    enable_plugin(app, shop, "fake_flaky")
    _set_row(app, shop, "fake_flaky", enabled=False, disabled_reason="platform")
    client = app.test_client()
    headers = bearer(merchant_token(client, shop))
    refused = client.post(f"{shop.prefix}/api/console/plugins/fake_flaky/enable", json={}, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["plugin"] == {
        "code": "platform_disabled",
        "message": _t(app, "The platform has switched this plugin off in your store."),
    }
    assert _row(app, shop, "fake_flaky").enabled is False


def test_a_withdrawn_plugin_is_shown_as_withdrawn_and_cannot_be_turned_on(app):
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    user, stranger = make_store(app), make_store(app)
    enable_plugin(app, user, "fake_gone")
    # the platform withdraws it: the release is withdrawn and every store's switch goes off at once
    with app.app_context():
        release = db.session.execute(sa.select(PluginRelease).filter_by(name="fake_gone")).scalar_one()
        release.status = "withdrawn"
        db.session.commit()
    _set_row(app, user, "fake_gone", enabled=False, disabled_reason="platform")
    withdrawn = _t(app, "The platform has taken this plugin off the marketplace.")

    client = app.test_client()
    login_merchant(client, user)
    listing = f"{user.prefix}/console/plugins"
    card = client.get(listing).get_data(as_text=True).split('id="plugin-fake_gone"')[1].split("</section>")[0]
    assert withdrawn in card and "/console/plugins/fake_gone/enable" not in card  # no button to press
    refused = post_form(client, f"{user.prefix}/console/plugins/fake_gone/enable", {}, form_path=listing)
    assert refused.status_code == 303 and withdrawn in client.get(listing).get_data(as_text=True)
    assert _row(app, user, "fake_gone").enabled is False
    headers = bearer(merchant_token(client, user))
    answer = client.post(f"{user.prefix}/api/console/plugins/fake_gone/enable", json={}, headers=headers)
    assert answer.status_code == 422 and answer.get_json()["fields"]["plugin"]["code"] == "withdrawn"

    # after the next start it is not loaded: the store that used it still sees why it is gone
    later = restart_app(app)
    try:
        assert "fake_gone" not in later.extensions["mallow.loaded_plugins"]
        client = later.test_client()
        login_merchant(client, user)
        html = client.get(listing).get_data(as_text=True)
        card = html.split('id="plugin-fake_gone"')[1].split("</section>")[0]
        assert "下架插件" in card and withdrawn in card
        about = client.get(f"{user.prefix}/console/plugins/fake_gone/about").get_data(as_text=True)
        assert withdrawn in about and "<img" not in about
        assert client.get(f"{user.prefix}/console/plugins/fake_gone").status_code == 303  # no settings to edit
        headers = bearer(merchant_token(client, user))
        item = client.get(f"{user.prefix}/api/console/plugins/fake_gone", headers=headers).get_json()
        assert item["disabled_reason"] == "platform" and item["available"] is False and item["enabled"] is False
        answer = client.post(f"{user.prefix}/api/console/plugins/fake_gone/enable", json={}, headers=headers)
        assert answer.status_code == 422
        # a store that never used it does not see it at all
        other = later.test_client()
        login_merchant(other, stranger)
        assert 'id="plugin-fake_gone"' not in other.get(f"{stranger.prefix}/console/plugins").get_data(as_text=True)
        assert other.get(f"{stranger.prefix}/console/plugins/fake_gone/about").status_code == 404
    finally:
        dispose_app(later, drop_database=False)
