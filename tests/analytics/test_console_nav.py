"""The console's nav leads to the analytics page (数据分析) from every console page."""

from __future__ import annotations

from mallow.testing import login_merchant, make_store


def test_every_console_page_links_to_analytics(app):
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    for path in ("/console/", "/console/orders", "/console/coupons"):
        html = client.get(f"{shop.prefix}{path}").get_data(as_text=True)
        assert f'<a href="{shop.prefix}/console/analytics" id="nav-analytics">数据分析</a>' in html, path
    assert client.get(f"{shop.prefix}/console/analytics").status_code == 200
