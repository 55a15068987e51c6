"""Every coupon rule through the API: thresholds, percent with a cap, no threshold, scope by
category and product, validity windows and days after claiming, total and per-shopper limits,
the best coupon pre-selected with the others' reasons, the Advertising-Law screening."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

from .conftest import claim, coupon_adjustments, create_coupon, in_store, iso, order, quote, window

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token


def _setup(app):
    client = app.test_client()
    shop = make_store(app)
    token, address = make_shopper(client, shop)
    return client, shop, token, address


def test_amount_off_threshold_just_below_and_at(app):
    client, shop, token, _address = _setup(app)
    [sku] = make_product(app, shop, title="核桃", price=4999)
    coupon = create_coupon(client, shop, threshold_fen=10000, amount_fen=1000, name="满100减10")
    held = claim(client, shop, token, coupon["id"])

    below = quote(client, shop, token, [(sku, 2)], {"coupon": held["id"]})  # 99.98: two fen short
    assert [p["code"] for p in below["problems"]] == ["coupon_unusable"]
    assert "¥0.02" in below["problems"][0]["message"]
    assert coupon_adjustments(below) == []
    best = quote(client, shop, token, [(sku, 2)])  # no option: the best, and here none is usable
    assert best["coupons"]["selected"] is None and best["problems"] == []
    assert best["coupons"]["unusable"][0]["reason"]["code"] == "below_threshold"

    [sku_at] = make_product(app, shop, title="核桃仁", price=5000)
    at = quote(client, shop, token, [(sku_at, 2)], {"coupon": held["id"]})
    assert at["problems"] == []
    assert coupon_adjustments(at) == [("优惠券：满100减10", -1000)]
    assert at["total"] == 10000 - 1000


def test_percent_off_with_a_cap_and_no_threshold(app):
    client, shop, token, _address = _setup(app)
    [sku] = make_product(app, shop, price=3333)
    percent = create_coupon(client, shop, kind="percent_off", percent=15, cap_fen=2000, name="85折券")
    flat = create_coupon(client, shop, kind="no_threshold", amount_fen=300, name="无门槛3元")
    p_held, f_held = claim(client, shop, token, percent["id"]), claim(client, shop, token, flat["id"])

    one = quote(client, shop, token, [(sku, 1)], {"coupon": p_held["id"]})
    assert coupon_adjustments(one)[0][1] == -(3333 * 15 // 100)  # 499 fen: rounded down
    capped = quote(client, shop, token, [(sku, 6)], {"coupon": p_held["id"]})  # 15 % of 199.98 = 29.99 > 20
    assert coupon_adjustments(capped)[0][1] == -2000
    no_min = quote(client, shop, token, [(sku, 1)], {"coupon": f_held["id"]})
    assert coupon_adjustments(no_min)[0][1] == -300

    # the best is pre-selected: the percent coupon on one unit (4.99 > 3), the others listed usable
    best = quote(client, shop, token, [(sku, 1)])
    assert best["coupons"]["selected"] == p_held["id"]
    assert [c["id"] for c in best["coupons"]["usable"]] == [p_held["id"], f_held["id"]]
    assert coupon_adjustments(best)[0][1] == -499
    none = quote(client, shop, token, [(sku, 1)], {"coupon": "none"})
    assert coupon_adjustments(none) == [] and none["total"] == 3333


def test_a_coupon_never_takes_more_than_its_lines(app):
    client, shop, token, _address = _setup(app)
    [sku] = make_product(app, shop, price=200)
    held = claim(client, shop, token, create_coupon(client, shop, kind="no_threshold", amount_fen=500)["id"])
    data = quote(client, shop, token, [(sku, 1)], {"coupon": held["id"]})
    assert coupon_adjustments(data)[0][1] == -200 and data["total"] == 0 and data["problems"] == []


def test_scope_by_product_and_by_category(app):
    from mallow.catalog.models import Product, ProductCategory, Sku
    from mallow.db import db

    client, shop, token, _address = _setup(app)
    [nuts] = make_product(app, shop, title="坚果", price=5000)
    [tea] = make_product(app, shop, title="茶叶", price=5000)

    def categorise():
        category = ProductCategory(name="茶")
        db.session.add(category)
        db.session.flush()
        product_id = db.session.get(Sku, tea).product_id
        db.session.get(Product, product_id).category_id = category.id
        db.session.commit()
        return category.id, product_id, db.session.get(Sku, nuts).product_id

    category_id, tea_product, nut_product = in_store(app, shop, categorise)
    by_category = create_coupon(
        client, shop, kind="no_threshold", amount_fen=500, scope="categories", scope_ids=[category_id], name="茶券"
    )
    by_product = create_coupon(
        client, shop, kind="percent_off", percent=10, scope="products", scope_ids=[nut_product], name="坚果券"
    )
    c_held, p_held = claim(client, shop, token, by_category["id"]), claim(client, shop, token, by_product["id"])

    only_nuts = quote(client, shop, token, [(nuts, 1)], {"coupon": c_held["id"]})
    assert only_nuts["problems"][0]["code"] == "coupon_unusable"
    mixed = quote(client, shop, token, [(nuts, 1), (tea, 1)], {"coupon": p_held["id"]})
    assert coupon_adjustments(mixed)[0][1] == -500  # 10 % of the nuts only
    listed = client.get(f"{shop.prefix}/api/coupons/mine", headers=bearer(token)).get_json()
    assert {c["coupon"]["name"] for c in listed} == {"茶券", "坚果券"}

    # an unknown id in the scope is a field error, not a 500
    bad = create_coupon(client, shop, expect=422, scope="products", scope_ids=[tea_product, 999999])
    assert "scope_ids" in bad["fields"]


def test_validity_window_and_days_after_claim(app):
    from mallow.coupons import service
    from mallow.coupons.models import CustomerCoupon
    from mallow.db import db

    client, shop, token, _address = _setup(app)
    [sku] = make_product(app, shop, price=5000)
    now = datetime.now(UTC)
    future = create_coupon(
        client, shop, kind="no_threshold", amount_fen=100, starts_at=iso(now + timedelta(days=1)), name="明日券"
    )
    refused = claim(client, shop, token, future["id"], expect=409)
    assert refused["error"] == "not_started"
    days = create_coupon(
        client, shop, kind="no_threshold", amount_fen=200, validity="days_after_claim", valid_days=7, name="7天券"
    )
    held = claim(client, shop, token, days["id"])
    until = datetime.fromisoformat(held["valid_until"])
    assert timedelta(days=6, hours=23) < until - datetime.fromisoformat(held["valid_from"]) <= timedelta(days=7)

    # a coupon held but past its validity: unusable ("expired") until the sweep marks it expired
    def age():
        row = db.session.get(CustomerCoupon, held["id"])
        row.valid_from, row.valid_until = now - timedelta(days=9), now - timedelta(days=2)
        db.session.commit()

    in_store(app, shop, age)
    data = quote(client, shop, token, [(sku, 1)], {"coupon": held["id"]})
    assert data["problems"][0]["code"] == "coupon_unusable"
    best = quote(client, shop, token, [(sku, 1)])
    assert best["coupons"]["unusable"][0]["reason"]["code"] == "expired"
    assert in_store(app, shop, lambda: service.expire()) == 1
    mine = client.get(f"{shop.prefix}/api/coupons/mine", headers=bearer(token)).get_json()
    assert [c["status"] for c in mine] == ["expired"]


def test_total_and_per_shopper_limits(app):
    client, shop, token, _address = _setup(app)
    other, _ = make_shopper(client, shop)
    third, _ = make_shopper(client, shop)
    coupon = create_coupon(client, shop, total_quantity=2, per_shopper_limit=1)
    claim(client, shop, token, coupon["id"])
    assert claim(client, shop, token, coupon["id"], expect=409)["error"] == "limit_reached"
    claim(client, shop, other, coupon["id"])
    assert claim(client, shop, third, coupon["id"], expect=409)["error"] == "sold_out"
    listed = client.get(f"{shop.prefix}/api/console/coupons", headers=bearer(merchant_token(client, shop))).get_json()
    assert [(c["issued_count"], c["left"]) for c in listed] == [(2, 0)]
    assert client.get(f"{shop.prefix}/api/coupons/claimable").get_json() == []


def test_the_claim_centre_lists_active_coupons_in_their_window(app):
    client, shop, _token, _address = _setup(app)
    token = merchant_token(client, shop)
    live = create_coupon(client, shop, token, name="可领券")
    create_coupon(client, shop, token, name="草稿券", status="draft")
    create_coupon(
        client,
        shop,
        token,
        name="过期券",
        **window(days_before=10, days_after=-5) | {"ends_at": iso(datetime.now(UTC) - timedelta(days=1))},
    )
    names = [c["name"] for c in client.get(f"{shop.prefix}/api/coupons/claimable").get_json()]
    assert names == [live["name"]]


def test_advertising_law_terms_refuse_a_coupon_name(app):
    client, shop, _token, _address = _setup(app)
    refused = create_coupon(client, shop, expect=422, name="全网最低价券")
    assert refused["fields"]["name"]["code"] == "prohibited_term"
    assert "最低价" in refused["fields"]["name"]["message"]
    described = create_coupon(client, shop, expect=422, description="史上最低价，万人疯抢")
    assert described["fields"]["description"]["code"] == "prohibited_term"


def test_bad_input_is_a_field_error(app):
    client, shop, _token, _address = _setup(app)
    bad = create_coupon(client, shop, expect=422, kind="percent_off", percent=0)
    assert "percent" in bad["fields"]
    bad = create_coupon(client, shop, expect=422, threshold_fen=500, amount_fen=1000)
    assert bad["fields"]["amount_fen"]["code"] == "above_threshold"
    bad = create_coupon(client, shop, expect=422, starts_at="not a date")
    assert "starts_at" in bad["fields"]


def test_issue_to_a_list_and_to_a_new_member(app):
    from mallow.accounts.models import Customer
    from mallow.coupons import service
    from mallow.db import db

    client, shop, token, _address = _setup(app)
    create_coupon(client, shop, kind="no_threshold", amount_fen=500, name="新人券", auto_issue="new_member")
    listed = create_coupon(client, shop, kind="no_threshold", amount_fen=100, name="老客券", per_shopper_limit=1)
    ids = in_store(app, shop, lambda: list(db.session.execute(db.select(Customer.id)).scalars()))

    result = in_store(app, shop, lambda: service.issue(listed["id"], ids + [999999], batch="b1").as_dict())
    assert result["issued"] == len(ids) and result["refused"] == {"999999": "no_such_shopper"}
    again = in_store(app, shop, lambda: service.issue(listed["id"], ids, batch="b1").as_dict())  # a retried job
    assert again["issued"] == len(ids)

    def new_member():
        customer = db.session.get(Customer, ids[0])
        granted = service.issue_to_new_member(customer)
        db.session.commit()
        return [g.coupon.name for g in granted]

    assert in_store(app, shop, new_member) == ["新人券"]
    mine = client.get(f"{shop.prefix}/api/coupons/mine", headers=bearer(token)).get_json()
    assert sorted(c["coupon"]["name"] for c in mine) == ["新人券", "老客券"]


def test_the_operations_are_in_the_openapi_document(app):
    client = app.test_client()
    document = client.get("/api/openapi.json").get_json()
    found = {op["operationId"] for path in document["paths"].values() for op in path.values() if isinstance(op, dict)}
    assert {"createCoupon", "listCoupons", "claimCoupon", "listMyCoupons", "listClaimableCoupons"} <= found
    assert "/s/{store}/api/coupons/{coupon_id}/claim" in document["paths"]
    assert "/s/{store}/api/coupons/claimable" in document["paths"]


def test_a_coupon_order_is_refused_when_the_coupon_is_not_the_shoppers(app):
    client, shop, token, address = _setup(app)
    other, _ = make_shopper(client, shop)
    [sku] = make_product(app, shop, price=5000)
    held = claim(client, shop, other, create_coupon(client, shop, kind="no_threshold", amount_fen=100)["id"])
    refused = order(client, shop, token, address, [(sku, 1)], {"coupon": held["id"]}, expect=422)
    assert [p["code"] for p in refused["problems"]] == ["coupon_unavailable"]
    assert (
        order(client, shop, token, address, [(sku, 1)], {"coupon": "abc"}, expect=422)["problems"][0]["code"]
        == "coupon_invalid"
    )
