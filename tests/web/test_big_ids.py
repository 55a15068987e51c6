"""Ids in URLs, query strings and JSON bodies beyond what an id column holds (every id is a
32-bit integer): a 404 (or 400/401/403/405/422), never a 500 — PostgreSQL refuses such a number
with an error ("integer out of range"), SQLite above 2^63. One converter bounds every
``<int:…>`` of core and plugins; the API's shared ``ID`` schema bounds ids in bodies."""

from __future__ import annotations

import re

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter

from mallow.web.ids import ID_MAX

from .conftest import visitor

TOO_BIG = ["2147483648", "99999999999", "99999999999999999999999"]
TOO_SMALL = ["0", "-1"]
PART = re.compile(r"<(?:([a-z_]+)(?:\(([^)]*)\))?:)?([a-z_]+)>")


def _int_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values())
    ]


def _url(rule, shop, value: str) -> str:
    def fill(match):
        converter, args, name = match.groups()
        if converter == "int":
            return value
        if converter == "any":
            return args.split(",")[0].strip()
        return shop.slug if name == "store_slug" else "x"

    return PART.sub(fill, rule.rule)


def test_every_int_route_is_bounded_by_one_converter(mall_app, mall_shop):
    rules = _int_rules(mall_app)
    assert len(rules) >= 100  # core and the three plugins
    plugin_rules = [r for r in rules if "/x/" in r.rule]
    assert {"groupbuy", "flashsale", "distribution"} <= {r.rule.split("/x/")[1].split("/")[0] for r in plugin_rules}
    adapter = mall_app.url_map.bind("localhost")
    for rule in rules:
        for value in TOO_BIG + TOO_SMALL:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                try:
                    endpoint, _args = adapter.match(_url(rule, mall_shop, value), method=method)
                except (NotFound, MethodNotAllowed):
                    continue
                assert endpoint != rule.endpoint, (rule.rule, value, method)
        top = _url(rule, mall_shop, str(ID_MAX))
        assert adapter.match(top, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])[0] == rule.endpoint, top


def _failure(guest, method: str, url: str, kwargs: dict) -> list[str]:
    """``[]`` when the request is answered below 500; else what went wrong (the test app
    propagates exceptions: every failing request is listed, not only the first)."""
    try:
        response = guest.client.open(url, method=method, headers=guest.headers, **kwargs)
    except Exception as error:  # noqa: BLE001
        return [f"{guest.who} {method} {url}: {type(error).__name__}: {str(error).splitlines()[0][:120]}"]
    return [f"{guest.who} {method} {url}: {response.status_code}"] if response.status_code >= 500 else []


@pytest.mark.parametrize("who", ["anonymous", "merchant", "shopper", "admin"])
def test_out_of_range_ids_in_urls_are_never_a_500(mall_app, mall_shop, who):
    guest = visitor(mall_app, mall_shop, who)
    failures = []
    for rule in _int_rules(mall_app):
        for value in TOO_BIG + TOO_SMALL:
            url = _url(rule, mall_shop, value)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") and "/api/" in url else {}
                failures += _failure(guest, method, url, kwargs)
    assert not failures, "\n".join(failures)


def test_a_big_id_in_a_store_page_is_a_plain_404(mall_app, mall_shop):
    client = mall_app.test_client()
    for url in (
        f"{mall_shop.prefix}/api/products/2147483648",
        f"{mall_shop.prefix}/products/99999999999",
        f"{mall_shop.prefix}/x/groupbuy/c/2147483648",
    ):
        response = client.get(url)
        assert response.status_code == 404, url


def test_path_ids_are_declared_bounded_in_the_openapi_document(mall_app):
    document = mall_app.test_client().get("/api/openapi.json").get_json()
    by_operation = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    checked = 0
    for rule in _int_rules(mall_app):
        operation = by_operation.get(rule.endpoint.rsplit(".", 1)[-1])
        if operation is None or not rule.endpoint.startswith(("api.", "store_api.", "console_api.")):
            continue
        params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "path"}
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                assert params[name]["type"] == "integer", (rule.rule, name)
                assert params[name]["minimum"] == converter.min and params[name]["maximum"] == converter.max == ID_MAX
                checked += 1
    assert checked >= 30
    photo = by_operation["getAfterSalePhoto"]
    assert "{index}" in next(path for path, item in document["paths"].items() if photo in item.values())


# --- ids in JSON bodies, query strings and forms ------------------------------------------------

BIG = 2147483648


def _cases(p: str, sku: int, address: int):
    """``(who, method, url, keywords)``: an out-of-range id where an id is expected."""
    api, console = f"{p}/api", f"{p}/api/console"
    item = [{"sku_id": sku, "quantity": 1}]
    return [
        ("shopper", "POST", f"{api}/cart/items", {"json": {"sku_id": BIG, "quantity": 1}}),
        ("shopper", "POST", f"{api}/checkout/quote", {"json": {"items": [{"sku_id": BIG, "quantity": 1}]}}),
        (
            "shopper",
            "POST",
            f"{api}/orders",
            {"json": {"items": [{"sku_id": BIG, "quantity": 1}], "address_id": address}},
        ),
        ("shopper", "POST", f"{api}/orders", {"json": {"items": item, "address_id": BIG}}),
        (
            "shopper",
            "POST",
            f"{api}/orders",
            {
                "json": {
                    "items": item,
                    "address_id": address,
                    "options": {"groupbuy": {"campaign_id": BIG, "group_id": BIG}},
                }
            },
        ),
        (
            "shopper",
            "POST",
            f"{api}/orders",
            {"json": {"items": item, "address_id": address, "options": {"flashsale": {"sale_id": BIG}}}},
        ),
        (
            "shopper",
            "POST",
            f"{api}/x/groupbuy/quote",
            {"json": {"items": item, "options": {"groupbuy": {"campaign_id": BIG}}}},
        ),
        ("anonymous", "GET", f"{api}/products?category={BIG}", {}),
        ("anonymous", "GET", f"{p}/search?category={BIG}", {}),
        ("shopper", "POST", f"{p}/cart/items", {"data": {"sku_id": str(BIG), "quantity": "1"}}),
        ("merchant", "POST", f"{console}/products", {"json": {"title": "大号", "category_id": BIG}}),
        ("merchant", "POST", f"{console}/products", {"json": {"title": "大号", "shipping_template_id": BIG}}),
        ("merchant", "POST", f"{console}/products", {"json": {"title": "大号", "media_ids": [BIG]}}),
        ("merchant", "POST", f"{console}/categories", {"json": {"name": "大号", "parent_id": BIG}}),
        ("merchant", "POST", f"{console}/skus/bulk", {"json": {"items": [{"sku_id": BIG, "stock": 1}]}}),
        ("merchant", "POST", f"{console}/pages/home/rollback", {"json": {"version_id": BIG}}),
        ("merchant", "GET", f"{console}/products?category={BIG}", {}),
        ("merchant", "GET", f"{console}/x/groupbuy/groups?campaign_id={BIG}", {}),
        ("merchant", "POST", f"{console}/x/groupbuy/campaigns", {"json": {"title": "团", "product_id": BIG}}),
        ("merchant", "GET", f"{console}/x/distribution/commissions?order_id={BIG}", {}),
        ("merchant", "GET", f"{p}/console/products?category={BIG}", {}),
        ("merchant", "GET", f"{p}/console/x/groupbuy/groups?campaign={BIG}", {}),
        ("merchant", "GET", f"{p}/console/x/groupbuy/new?product_id={BIG}", {}),
        (
            "merchant",
            "POST",
            f"{p}/console/products/new",
            {"data": {"title": "大号", "shipping_template_id": str(BIG)}},
        ),
        ("merchant", "POST", f"{p}/console/products/new", {"data": {"title": "大号", "category_id": str(BIG)}}),
        ("merchant", "POST", f"{p}/console/categories", {"data": {"name": "大号", "parent_id": str(BIG)}}),
        ("merchant", "POST", f"{p}/console/products/new", {"data": {"title": "大号", "media": str(BIG)}}),
        (
            "merchant",
            "POST",
            f"{p}/console/x/distribution/bindings/transfer",
            {"data": {"customer_id": str(BIG), "code": "NOPE"}},
        ),
        ("merchant", "POST", f"{p}/console/x/distribution/products", {"data": {"product_id": str(BIG)}}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "merchant", "shopper"])
def test_out_of_range_ids_in_bodies_and_query_strings_are_never_a_500(mall_app, mall_shop, who):
    from mallow.testing import make_product

    guest = visitor(mall_app, mall_shop, who)
    [sku] = make_product(mall_app, mall_shop, title="大号测试")
    address = (
        guest.client.get(f"{mall_shop.prefix}/api/addresses", headers=guest.headers).get_json()
        if who == "shopper"
        else None
    )
    address_id = address[0]["id"] if isinstance(address, list) and address else 1
    failures = []
    for case_who, method, url, kwargs in _cases(mall_shop.prefix, sku, address_id):
        if case_who != who:
            continue
        failures += _failure(guest, method, url, kwargs)
    assert not failures, "\n".join(failures)
