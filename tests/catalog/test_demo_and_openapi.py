"""The demo store is full of products (idempotently), and the OpenAPI document lists the
catalogue operations."""

from __future__ import annotations

CATALOGUE_OPERATIONS = {
    "listProducts",
    "getProduct",
    "listProductCategories",
    "createProduct",
    "updateProduct",
    "createCategory",
    "bulkUpdateSkus",
    "listLowStock",
    "listMerchantProducts",
    "getMerchantProduct",
    "uploadProductImage",
    "deleteProductImage",
    "updateProductCategory",
    "deleteProductCategory",
}


def test_demo_seeds_a_full_store_once(app):
    from mallow.catalog.models import Product, ProductCategory, Sku
    from mallow.db import db
    from mallow.demo import seed, seed_catalogue
    from mallow.tenants.context import store_context
    from mallow.tenants.models import Store

    with app.app_context():
        seed()
        store_id = db.session.execute(db.select(Store.id).filter_by(slug="demo")).scalar_one()
    with store_context(store_id, app):
        assert seed_catalogue() == 0  # everything is there already
        products = list(db.session.execute(db.select(Product)).scalars())
        assert len(products) == 12 and all(p.status == "on_shelf" and len(p.images) == 2 for p in products)
        assert db.session.execute(db.select(db.func.count()).select_from(ProductCategory)).scalar() == 3
        assert db.session.execute(db.select(db.func.count()).select_from(Sku)).scalar() >= 20
    client = app.test_client()
    listing = client.get("/s/demo/api/products", query_string={"q": "山核桃"}).get_json()
    assert {"临安山核桃仁", "纸皮山核桃", "手剥山核桃"} <= {item["title"] for item in listing["items"]}
    home = client.get("/s/demo/").get_data(as_text=True)
    assert home.count("data-product-id=") == 12 and 'id="licence"' in home
    token = client.post(
        "/api/tokens", json={"email": "merchant@mallow.demo", "password": "mallow-demo-2026"}
    ).get_json()
    low = client.get("/s/demo/api/console/skus/low-stock", headers={"Authorization": f"Bearer {token['token']}"})
    assert low.status_code == 200 and low.get_json()["items"]  # a few SKUs run low, one is sold out


def test_openapi_lists_the_catalogue_operations(client):
    doc = client.get("/api/openapi.json").get_json()
    operations = {
        op["operationId"]: (path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
    }
    assert CATALOGUE_OPERATIONS <= set(operations)
    path, method, list_products = operations["listProducts"]
    assert (path, method) == ("/s/{store}/api/products", "get") and list_products["security"] == []
    assert {"q", "category", "min_price", "max_price", "sort", "page", "per_page"} <= {
        p["name"] for p in list_products["parameters"]
    }
    _path, _method, create = operations["createProduct"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["skus"]["items"]["properties"]["price"]["type"] == "integer"
    assert create["security"] == [{"merchantToken": []}]
