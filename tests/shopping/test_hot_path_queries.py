"""The storefront's hot paths in the demo store (three categories, a dozen products, the group-buy,
flash-sale and distribution plugins on) make a fixed number of SQL statements, whatever the
catalogue holds: no lazy load per product, per SKU or per plugin. The counts are exact, so a new
query on a hot path fails here and has to be argued for (docs/architecture.md, "Hot paths").

Two kinds of visitor: an anonymous one is answered from the page the front door kept (no
statement at all); one with a guest cart gets their own render (the store and its plugins still
come from memory)."""

from __future__ import annotations


import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from mallow.cli import main
from mallow.testing.sql import statements
from mallow.testing import backend_params, build_app, dispose_app


@pytest.fixture(scope="module", params=backend_params())
def demo(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param)
    done = CliRunner().invoke(main, ["demo"], obj=ScriptInfo(create_app=lambda: app))
    assert done.exit_code == 0, done.output
    yield app
    dispose_app(app)


def _ids(app):
    client = app.test_client()
    products = client.get("/s/demo/api/products").get_json()["items"]
    category = client.get("/s/demo/api/categories").get_json()["items"][0]["id"]
    return products[0]["id"], category


def _count(app, path: str, *, personal: bool) -> tuple[int, list[str]]:
    client = app.test_client()
    if personal:  # a guest cart: the visitor's own render, never a kept page
        from mallow.db import db
        from mallow.tenants.models import Store

        with app.app_context():
            store_id = db.session.execute(sa.select(Store.id).filter_by(slug="demo")).scalar_one()
        client.set_cookie(f"mallow_cart_{store_id}", "g" * 43)
    for _ in range(2):  # warm: the store met, renders and slots kept
        assert client.get(path).status_code == 200
    with statements() as seen:
        response = client.get(path)
    assert response.status_code == 200
    return len(seen), seen


@pytest.mark.parametrize("page", ["home", "product", "category", "search"])
def test_anonymous_visitors_are_answered_without_a_statement(demo, page):
    product, category = _ids(demo)
    path = {
        "home": "/s/demo/",
        "product": f"/s/demo/products/{product}",
        "category": f"/s/demo/category/{category}",
        "search": "/s/demo/search?q=%E8%8C%B6",
    }[page]
    count, seen = _count(demo, path, personal=False)
    assert count == 0, seen


#: what a visitor with a guest cart costs, page by page (see the module's docstring)
PERSONAL = {
    # the published home page's row (render kept), the guest cart's count for the tab bar
    "home": 2,
    # the product with its category, pictures and SKUs; the template row; the cart count
    "product": 6,
}


@pytest.mark.parametrize("page", sorted(PERSONAL))
def test_a_personal_render_makes_a_fixed_number_of_statements(demo, page):
    product, _category = _ids(demo)
    path = {"home": "/s/demo/", "product": f"/s/demo/products/{product}"}[page]
    count, seen = _count(demo, path, personal=True)
    assert count == PERSONAL[page], "\n".join(s.split("\n")[0][:160] for s in seen)
