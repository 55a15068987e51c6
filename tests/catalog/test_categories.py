"""The category tree: parents in this store only, no cycles, no deleting what is in use."""

from __future__ import annotations


def test_tree_crud_and_nested_listing(console):
    food = console.category("食品")
    nuts = console.category("坚果", food)
    walnut = console.category("山核桃", nuts)
    tea = console.category("茶叶")
    tree = console.client.get(f"{console.shop.prefix}/api/categories").get_json()["items"]
    assert [c["name"] for c in tree] == ["食品", "茶叶"]
    assert tree[0]["children"][0]["children"][0]["id"] == walnut
    renamed = console.patch(f"/categories/{tea}", {"name": "名茶", "sort": -1})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "名茶"
    tree = console.client.get(f"{console.shop.prefix}/api/categories").get_json()["items"]
    assert [c["name"] for c in tree] == ["名茶", "食品"]
    # hidden categories are not listed for shoppers, and keep their state on a rename
    assert console.patch(f"/categories/{tea}", {"active": False}).get_json()["active"] is False
    assert console.patch(f"/categories/{tea}", {"name": "茶"}).get_json()["active"] is False
    assert [c["name"] for c in console.client.get(f"{console.shop.prefix}/api/categories").get_json()["items"]] == [
        "食品"
    ]


def test_field_errors(console):
    food = console.category("食品")
    assert console.post("/categories", {"name": ""}).get_json()["fields"]["name"]["code"] in ("required", "minLength")
    assert console.post("/categories", {"name": "食品"}).get_json()["fields"]["name"]["code"] == "taken"
    assert console.post("/categories", {"name": "x" * 41}).status_code == 422
    missing = console.post("/categories", {"name": "坚果", "parent_id": 999999})
    assert missing.status_code == 422 and missing.get_json()["fields"]["parent_id"]["code"] == "not_found"
    assert console.post("/categories", {"name": "食品", "parent_id": food}).status_code == 201  # same name elsewhere


def test_no_cycles(console):
    a = console.category("A")
    b = console.category("B", a)
    c = console.category("C", b)
    for parent in (a, b, c):
        response = console.patch(f"/categories/{a}", {"parent_id": parent})
        assert response.status_code == 422 and response.get_json()["fields"]["parent_id"]["code"] == "cycle", parent
    assert console.patch(f"/categories/{c}", {"parent_id": None}).get_json()["parent_id"] is None


def test_depth_limit(console):
    parent = None
    for level in range(4):
        parent = console.category(f"L{level}", parent)
    deep = console.post("/categories", {"name": "L4", "parent_id": parent})
    assert deep.status_code == 422 and deep.get_json()["fields"]["parent_id"]["code"] == "too_deep"


def test_parent_of_another_store_is_not_found(console, other_console):
    theirs = other_console.category("别家")
    mine = console.category("自家")
    response = console.post("/categories", {"name": "子类", "parent_id": theirs + 1000})
    assert response.status_code == 422
    # ids are per store: the other store's id means a category of *this* store, or nothing
    response = console.patch(f"/categories/{mine}", {"parent_id": theirs})
    assert response.status_code in (200, 422)
    assert (
        other_console.client.patch(
            f"{console.api}/categories/{mine}", json={"name": "x"}, headers=other_console.headers
        ).status_code
        == 403
    )


def test_delete_rules(console):
    food = console.category("食品")
    nuts = console.category("坚果", food)
    product = console.product("山核桃", category_id=nuts)
    delete = console.client.delete
    response = delete(f"{console.api}/categories/{food}", headers=console.headers)
    assert response.status_code == 422 and response.get_json()["fields"]["category"]["code"] == "has_children"
    response = delete(f"{console.api}/categories/{nuts}", headers=console.headers)
    assert response.status_code == 422 and response.get_json()["fields"]["category"]["code"] == "has_products"
    assert console.patch(f"/products/{product['id']}", {"category_id": None}).status_code == 200
    assert delete(f"{console.api}/categories/{nuts}", headers=console.headers).status_code == 204
    assert delete(f"{console.api}/categories/{food}", headers=console.headers).status_code == 204
    assert delete(f"{console.api}/categories/{food}", headers=console.headers).status_code == 404
