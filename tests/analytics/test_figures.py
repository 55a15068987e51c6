"""The figures of the seeded store (tests/analytics/conftest.py) equal the values worked out by
hand below: GMV, orders, paying customers, visitors, the funnel, top products, sources, RFM."""

from __future__ import annotations

from mallow.testing import bearer, merchant_token

from .conftest import AS_OF


def analytics(app, seeded):
    shop, _ = seeded
    client = app.test_client()
    response = client.get(
        f"{shop.prefix}/api/console/analytics?date={AS_OF.isoformat()}", headers=bearer(merchant_token(client, shop))
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_gmv_orders_customers_visitors(app, seeded):
    data = analytics(app, seeded)
    today, week, month = data["today"], data["periods"]["7"], data["periods"]["30"]
    # today: O8 (3 × 20.00) paid; visitor v6
    assert (today["gmv"], today["orders"], today["customers"], today["visitors"]) == (6000, 1, 1, 1)
    # 7 days (03-04..03-10): O1 100.00 + O2 100.00 + O4 20.00 paid, O5's refund of 50.00 on 03-06;
    # O10 is a test order; paying customers C1, C2; visitors v1..v4
    assert (week["paid_total"], week["refunded"], week["gmv"]) == (22000, 5000, 17000)
    assert (week["orders"], week["customers"], week["visitors"]) == (3, 2, 4)
    # 30 days: + O3 100.00, O5 200.00, O6 50.00; C3 too; v5 too
    assert (month["paid_total"], month["gmv"], month["orders"], month["customers"], month["visitors"]) == (
        57000,
        52000,
        6,
        3,
        5,
    )


def test_funnel(app, seeded):
    data = analytics(app, seeded)
    # viewed v1..v4 · carted v1 v2 v3 · ordered v1 v2 v3 · paid v1 v2 (v3's O9 is unpaid)
    assert data["periods"]["7"]["funnel"] == {"viewed": 4, "carted": 3, "ordered": 3, "paid": 2}
    # + v5 (viewed, carted)
    assert data["periods"]["30"]["funnel"] == {"viewed": 5, "carted": 4, "ordered": 3, "paid": 2}


def test_top_products_and_sources(app, seeded):
    shop, seed = seeded
    data = analytics(app, seeded)
    top = [(p["product_id"], p["units"], p["paid_amount"]) for p in data["periods"]["30"]["top_products"]]
    products = seed["products"]
    # P1: O1 1 + O3 1 + O5 2 = 4 units, 400.00; P2: O2 2 + O6 1 = 3, 150.00; P3: O4 1, 20.00
    assert top == [(products["P1"], 4, 40000), (products["P2"], 3, 15000), (products["P3"], 1, 2000)]
    sources = {s["source"]: (s["visitors"], s["orders"], s["paid_amount"]) for s in data["periods"]["30"]["sources"]}
    # direct: v1 v4, O4 paid 20.00 · share: v2, O2 paid 100.00 · distributor: v3, O9 unpaid · campaign: v5
    assert sources == {"direct": (2, 1, 2000), "share": (1, 1, 10000), "distributor": (1, 1, 0), "campaign": (1, 0, 0)}


def test_rfm_segments(app, seeded):
    from mallow.analytics import service
    from mallow.tenants.context import store_context

    shop, seed = seeded
    data = analytics(app, seeded)
    # as of 03-10 (C5's only order is today's): n = 4
    #   C1 recency 0, 3 orders, 300.00 → R4 F4 M4 重要价值
    #   C2 recency 1, 1 order (O10 is a test), 20.00 → R3 F1 M1 新客
    #   C3 recency 24, 2 orders, 200.00 − 50.00 + 50.00 = 200.00 → R2 F3 M3 重要唤回
    #   C4 recency 39, 1 order, 50.00 → R1 F1 M2 流失
    assert data["rfm"] == {"counts": {"valuable": 1, "win_back": 1, "new": 1, "promising": 0, "lost": 1}}
    assert "customers" not in data["rfm"]  # no list of shoppers in the figures
    c = seed["customers"]
    with store_context(shop.store_id, app=app):
        rows = {r["customer_id"]: r for r in service.cached_heavy(AS_OF)["rfm"]["customers"]}
    scores = {
        cid: (r["recency_days"], r["orders"], r["amount"], r["r"], r["f"], r["m"], r["segment"])
        for cid, r in rows.items()
    }
    assert scores == {
        c["C1"]: (0, 3, 30000, 4, 4, 4, "valuable"),
        c["C2"]: (1, 1, 2000, 3, 1, 1, "new"),
        c["C3"]: (24, 2, 20000, 2, 3, 3, "win_back"),
        c["C4"]: (39, 1, 5000, 1, 1, 2, "lost"),
    }


def test_bad_date_is_a_field_error(app, seeded):
    shop, _ = seeded
    client = app.test_client()
    response = client.get(
        f"{shop.prefix}/api/console/analytics?date=yesterday", headers=bearer(merchant_token(client, shop))
    )
    assert response.status_code == 400
    assert "date" in response.get_json()["fields"]


def test_shoppers_may_not_read_the_figures(app, seeded):
    shop, _ = seeded
    response = app.test_client().get(f"{shop.prefix}/api/console/analytics")
    assert response.status_code == 401
