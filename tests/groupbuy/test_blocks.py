"""The group-buy list block in the page builder: offered, accepted and drawn only in stores that
turned the plugin on; a published page follows the plugin being turned off and on, and a new
campaign reaches the cached page at once."""

from __future__ import annotations

from mallow.testing import bearer, disable_plugin, enable_plugin, login_merchant, make_store, merchant_token

from .conftest import Mall

HOME = {
    "sections": {
        "n": {"type": "notice_bar", "settings": {"text": "欢迎光临"}},
        "g": {"type": "groupbuy_list", "settings": {"title": "限时拼团", "count": 4}},
    },
    "order": ["n", "g"],
}


def _publish(client, shop, token, document):
    api = f"{shop.prefix}/api/console"
    return (
        client.put(f"{api}/pages/home/draft", json={"document": document}, headers=bearer(token)),
        client.post(f"{api}/pages/home/publish", headers=bearer(token)),
    )


def _palette(app, shop) -> str:
    client = app.test_client()
    login_merchant(client, shop)
    pages = client.get(f"{shop.prefix}/api/console/pages", headers=bearer(merchant_token(client, shop))).get_json()
    home = next(p for p in pages["items"] if p["kind"] == "home")
    response = client.get(f"{shop.prefix}/console/pages/{home['id']}/edit")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_block_exists_only_where_the_plugin_is_on(gb_app, client):
    mall = Mall(gb_app, client)
    other = make_store(gb_app)
    other_token = merchant_token(client, other)

    # the palette offers the block in the store that turned the plugin on, not in the other
    assert '"groupbuy_list"' in _palette(gb_app, mall.shop)
    assert '"groupbuy_list"' not in _palette(gb_app, other)

    # a page holding it is refused in the other store, with a clear reason, and changes nothing
    saved, _published = _publish(client, other, other_token, HOME)
    assert saved.status_code == 422
    error = saved.get_json()["fields"]["/sections/g/type"]
    assert error["code"] == "not_enabled"
    assert client.get(f"{other.prefix}/").get_data(as_text=True).count("限时拼团") == 0

    saved, published = _publish(client, mall.shop, mall.mtoken, HOME)
    assert saved.status_code == 200 and published.status_code == 201, saved.get_json()


def test_a_published_block_follows_the_plugin_and_new_campaigns(gb_app, client):
    mall = Mall(gb_app, client)
    saved, published = _publish(client, mall.shop, mall.mtoken, HOME)
    assert published.status_code == 201, saved.get_json()

    home = client.get(f"{mall.shop.prefix}/").get_data(as_text=True)
    assert 'data-block-type="groupbuy_list"' in home
    assert "新品三人团" not in home  # no campaign yet (the block stays empty); this render is now cached

    # a campaign created after the render shows at once (its table is watched by the block)
    skus = mall.product()
    mall.campaign(skus, title="新品三人团")
    home = client.get(f"{mall.shop.prefix}/").get_data(as_text=True)
    assert "新品三人团" in home and "限时拼团" in home

    # turned off: the section is gone from the cached page, the rest stays; the draft keeps it
    disable_plugin(gb_app, mall.shop, "groupbuy")
    home = client.get(f"{mall.shop.prefix}/").get_data(as_text=True)
    assert "欢迎光临" in home and 'data-block-type="groupbuy_list"' not in home and "新品三人团" not in home
    draft = client.get(f"{mall.shop.prefix}/api/console/pages/home", headers=bearer(mall.mtoken)).get_json()
    assert "g" in draft["document"]["sections"]

    # turned on again: it is back, nothing was lost
    enable_plugin(gb_app, mall.shop, "groupbuy")
    assert "新品三人团" in client.get(f"{mall.shop.prefix}/").get_data(as_text=True)
