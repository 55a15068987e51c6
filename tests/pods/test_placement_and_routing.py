"""Pods: where a new store goes, and that a store on the second cluster is served from there and
only from there."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import (
    bearer,
    build_app,
    dispose_app,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    run_cli,
)
from tests.pods.conftest import POD2, platform_url, pod_of, rows, scalar, schemas, store_on


def _set_main_capacity(app, capacity: int) -> None:
    from mallow.db import db
    from mallow.tenants.models import Pod

    with app.app_context():
        db.session.get(Pod, "main").capacity = capacity
        db.session.commit()


def _placed_on_main(app) -> int:
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.count()).where(Store.pod.is_(None), Store.status != "purged")
        ).scalar_one()


def test_a_new_store_goes_on_the_open_pod_with_the_most_room(pods_app):
    first = make_store(pods_app)  # main: room for 10,000, pod2 for 1,000
    assert pod_of(pods_app, first.store_id) == (None, None)
    placed = _placed_on_main(pods_app)
    try:
        _set_main_capacity(pods_app, placed + 10)  # main now has less room than pod2
        second = make_store(pods_app)
        assert pod_of(pods_app, second.store_id) == (POD2, None)
        listing = run_cli(pods_app, "pod", "list")
        main_line = next(line for line in listing.splitlines() if line.startswith("main "))
        assert main_line.split()[1:5] == ["open", str(placed), str(placed + 10), "10"]
        pod2_line = next(line for line in listing.splitlines() if line.startswith("pod2 "))
        assert pod2_line.split()[1] == "open" and pod2_line.split()[4] == str(1000 - int(pod2_line.split()[2]))
        run_cli(pods_app, "pod", "drain", POD2)  # draining: no new store, even with the most room
        try:
            third = make_store(pods_app)
            assert pod_of(pods_app, third.store_id) == (None, None)
        finally:
            run_cli(pods_app, "pod", "open", POD2)
    finally:
        _set_main_capacity(pods_app, 10_000)


def test_a_store_on_pod2_is_served_from_pod2_and_its_rows_are_only_there(pods_app):
    shop = store_on(pods_app, POD2)
    schema = f"store_{shop.store_id}"
    assert schema in schemas(pods_app.pod2_url)
    assert schema not in schemas(platform_url(pods_app))
    client = pods_app.test_client()
    [sku] = make_product(pods_app, shop, title="二号库的山核桃", price=2500, stock=5)
    assert "二号库的山核桃" in client.get(f"{shop.prefix}/").get_data(as_text=True)
    listed = client.get(f"{shop.prefix}/api/products").get_json()
    assert [item["title"] for item in listed["items"]] == ["二号库的山核桃"]
    token, address = make_shopper(client, shop)
    placed = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 2}], "address_id": address},
    )
    assert placed.status_code == 201, placed.get_json()
    order_id = placed.get_json()["id"]
    assert rows(pods_app.pod2_url, f'SELECT id, total FROM "{schema}".orders') == [
        (order_id, placed.get_json()["total"])
    ]
    assert scalar(pods_app.pod2_url, f'SELECT stock FROM "{schema}".skus WHERE id = :id', id=sku) == 3
    # the merchant's console API: staff rows (who may) and products, both on pod2
    console = client.get(f"{shop.prefix}/api/console/products", headers=bearer(merchant_token(client, shop)))
    assert console.status_code == 200
    assert [p["title"] for p in console.get_json()["items"]] == ["二号库的山核桃"]


def test_stores_on_two_pods_with_the_same_rows_never_see_each_other(pods_app):
    on_main = make_store(pods_app)
    on_pod2 = store_on(pods_app, POD2)
    assert pod_of(pods_app, on_main.store_id)[0] is None and pod_of(pods_app, on_pod2.store_id)[0] == POD2
    [main_sku] = make_product(pods_app, on_main, title="一号库的货", price=1000)
    [pod2_sku] = make_product(pods_app, on_pod2, title="二号库的货", price=2000)
    assert main_sku == pod2_sku  # the same ids in both schemas
    client = pods_app.test_client()
    for shop, mine, theirs in ((on_main, "一号库的货", "二号库的货"), (on_pod2, "二号库的货", "一号库的货")):
        page = client.get(f"{shop.prefix}/").get_data(as_text=True)
        assert mine in page and theirs not in page
        products = client.get(f"{shop.prefix}/api/products").get_json()["items"]
        assert [p["title"] for p in products] == [mine]
    token, _address = make_shopper(client, on_pod2)
    # a shopper of the pod2 store is no one in the main store (the same customer id there or not)
    assert client.get(f"{on_main.prefix}/api/orders", headers=bearer(token)).status_code == 401


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite")
    yield app
    dispose_app(app)


def test_on_sqlite_pod_commands_say_pods_are_postgresql(sqlite_app):
    for args in (("pod", "list"), ("pod", "add", "two", "postgresql://x@127.0.0.1/y", "--capacity", "5")):
        output = run_cli(sqlite_app, *args, code=1)
        assert "pods are a PostgreSQL feature" in output
    shop = make_store(sqlite_app)
    output = run_cli(sqlite_app, "store", "move", shop.slug, "--to", "two", code=1)
    assert "pods are a PostgreSQL feature" in output


def test_store_help_lists_close_export_import_and_move(sqlite_app):
    output = run_cli(sqlite_app, "store", "--help")
    commands = [line.split()[0] for line in output.split("Commands:")[1].splitlines() if line.strip()]
    assert {"close", "export", "import", "move"} <= set(commands)
    assert {"add", "list", "drain", "open"} <= {
        line.split()[0]
        for line in run_cli(sqlite_app, "pod", "--help").split("Commands:")[1].splitlines()
        if line.strip()
    }


def test_pod_add_refuses_a_password_in_the_address_and_a_pod_that_does_not_answer(pods_app):
    output = run_cli(
        pods_app, "pod", "add", "secret", "postgresql://postgres:hunter2@127.0.0.1:5433/x", "--capacity", "5", code=1
    )
    assert "password" in output and "env:NAME" in output
    output = run_cli(pods_app, "pod", "add", "away", "postgresql://postgres@127.0.0.1:1/x", "--capacity", "5", code=1)
    assert "does not answer" in output
    listing = run_cli(pods_app, "pod", "list")
    assert not any(line.startswith(("secret ", "away ")) for line in listing.splitlines())
