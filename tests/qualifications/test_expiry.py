"""Valid-until dates, with time moved forward: a lapsed permit takes the store's products off the
shelf (and a renewed, approved one puts exactly those back), a lapsed business licence closes the
storefront, the merchant is told ahead and when it happens, and approved documents come back to
the admins for re-verification every six months."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, UTC

from mallow.testing import (
    PASSWORD,
    bearer,
    login_admin,
    login_merchant,
    make_product,
    make_store,
    merchant_token,
    png_bytes,
    post_form,
    qualification_form,
)


def _days(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


def _admin(client, email):
    response = client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"})
    return response.get_json()["token"]


def _submit_and_approve(client, shop, admin_token, *, permits: dict[str, str] | None = None, **overrides):
    """Submit through the API (``permits``: permit kind → valid until) and approve it."""
    data = dict(qualification_form(**overrides))
    data["licence_image"] = (io.BytesIO(png_bytes()), "licence.png")
    for kind, until in (permits or {}).items():
        data.update(
            {
                f"permit_{kind}_number": f"NO-{kind[:8]}-1",
                f"permit_{kind}_valid_until": until,
                f"permit_{kind}_image": (io.BytesIO(png_bytes()), "permit.png"),
            }
        )
    submitted = client.post(
        f"{shop.prefix}/api/console/qualifications",
        data=data,
        headers=bearer(merchant_token(client, shop)),
        content_type="multipart/form-data",
    )
    assert submitted.status_code == 201, submitted.get_json()
    approved = client.post(
        f"/api/admin/qualifications/{submitted.get_json()['id']}/approve", json={}, headers=bearer(admin_token)
    )
    assert approved.status_code == 200, approved.get_json()
    return submitted.get_json()["id"]


def _food_store(app, client, admin_token, until: str):
    shop = make_store(app, approved=False, category="food_prepackaged")
    _submit_and_approve(client, shop, admin_token, permits={"food_filing_receipt": until})
    return shop


def _run_daily_job(app, days_ahead: int):
    now = datetime.now(UTC) + timedelta(days=days_ahead)
    runner = app.extensions["mallow.jobs"]
    runner.enqueue("qualifications.sweep", now=now.isoformat())
    runner.run_pending()


def _statuses(app, shop, product_ids):
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [db.session.get(Product, pid).status for pid in product_ids]


def _product_id(app, shop, sku_id):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Sku, sku_id).product_id


def _take_off_shelf(app, shop, product_id):
    from mallow.catalog import products
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        products.set_status(db.session.get(Product, product_id), "off_shelf", actor="test")


def _audit(app, shop, action):
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return list(
            db.session.execute(
                db.select(AuditEntry)
                .where(AuditEntry.store_id == shop.store_id, AuditEntry.action == action)
                .order_by(AuditEntry.id)
            ).scalars()
        )


def _dashboard(client, shop):
    page = client.get(f"{shop.prefix}/console/")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_lapsed_permit_takes_the_products_off_until_a_renewed_one_is_approved(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = _food_store(app, client, admin, _days(5))
    on_sale = [_product_id(app, shop, make_product(app, shop, title=f"坚果礼盒 {i}")[0]) for i in range(2)]
    kept_off = _product_id(app, shop, make_product(app, shop, title="下架的旧款")[0])
    _take_off_shelf(app, shop, kept_off)  # the merchant's own choice
    bystander = make_store(app)  # general merchandise: needs no permit
    [bystander_sku] = make_product(app, bystander, title="不相干的商品")
    bystander_product = _product_id(app, bystander, bystander_sku)

    _run_daily_job(app, days_ahead=3)  # still valid
    assert _statuses(app, shop, on_sale) == ["on_shelf", "on_shelf"]

    _run_daily_job(app, days_ahead=6)
    assert _statuses(app, shop, on_sale + [kept_off]) == ["off_shelf"] * 3
    assert _statuses(app, bystander, [bystander_product]) == ["on_shelf"]
    assert client.get(f"{shop.prefix}/").status_code == 200  # the store itself stays open
    assert client.get(f"{shop.prefix}/products/{on_sale[0]}").status_code == 404
    assert client.get(f"{bystander.prefix}/products/{bystander_product}").status_code == 200
    merchant = app.test_client()
    login_merchant(merchant, shop)
    assert "仅销售预包装食品备案凭证" in _dashboard(merchant, shop)
    [lapsed] = _audit(app, shop, "qualification.permit_lapsed")
    assert lapsed.detail == {"permits": ["food_filing_receipt"], "products": sorted(on_sale)}

    _run_daily_job(app, days_ahead=7)  # the next day: nothing new
    assert len(_audit(app, shop, "qualification.permit_lapsed")) == 1
    assert _dashboard(merchant, shop).count("仅销售预包装食品备案凭证") == 1

    _submit_and_approve(client, shop, admin, permits={"food_filing_receipt": "2040-01-01"})
    assert _statuses(app, shop, on_sale + [kept_off]) == ["on_shelf", "on_shelf", "off_shelf"]
    assert client.get(f"{shop.prefix}/products/{on_sale[0]}").status_code == 200
    assert "仅销售预包装食品备案凭证" not in _dashboard(merchant, shop)
    [restored] = _audit(app, shop, "qualification.products_restored")
    assert restored.detail == {"products": sorted(on_sale)}


def test_the_merchant_cannot_put_a_product_held_for_a_lapsed_permit_back_on_the_shelf(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = _food_store(app, client, admin, _days(5))
    product = _product_id(app, shop, make_product(app, shop, title="坚果礼盒")[0])
    _run_daily_job(app, days_ahead=6)
    assert _statuses(app, shop, [product]) == ["off_shelf"]
    token = merchant_token(client, shop)
    console = app.test_client()
    login_merchant(console, shop)
    base = f"{shop.prefix}/console/products"

    # the API: a field error on status naming the permit; nothing else of the request is saved
    refused = client.patch(
        f"{shop.prefix}/api/console/products/{product}",
        json={"status": "on_shelf", "title": "新标题"},
        headers=bearer(token),
    )
    assert refused.status_code == 422
    error = refused.get_json()["fields"]["status"]
    assert error["code"] == "permit_lapsed" and "仅销售预包装食品备案凭证" in error["message"]
    assert "新标题" not in client.get(f"{shop.prefix}/api/console/products/{product}", headers=bearer(token)).get_data(
        as_text=True
    )
    # the product form: the error at the status field
    form = post_form(
        console,
        f"{base}/{product}",
        {
            "title": "坚果礼盒",
            "specs_text": "",
            "skus.0.key": "",
            "skus.0.price": "10.00",
            "skus.0.stock": "100",
            "status": "on_shelf",
        },
    )
    assert form.status_code == 422
    page = form.get_data(as_text=True)
    assert 'data-field="status"' in page and "仅销售预包装食品备案凭证" in page
    # the product list's shelf button
    listed = post_form(
        console, f"{base}/{product}/status", {"status": "on_shelf"}, form_path=base, follow_redirects=True
    )
    assert "仅销售预包装食品备案凭证" in listed.get_data(as_text=True)
    assert _statuses(app, shop, [product]) == ["off_shelf"]
    assert client.get(f"{shop.prefix}/products/{product}").status_code == 404

    # the renewed permit, approved, puts it back; then the merchant decides again
    _submit_and_approve(client, shop, admin, permits={"food_filing_receipt": "2040-01-01"})
    assert _statuses(app, shop, [product]) == ["on_shelf"]
    _take_off_shelf(app, shop, product)
    again = client.patch(
        f"{shop.prefix}/api/console/products/{product}", json={"status": "on_shelf"}, headers=bearer(token)
    )
    assert again.status_code == 200 and again.get_json()["status"] == "on_shelf"


def test_a_lapsed_permit_that_another_valid_permit_covers_changes_nothing(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = make_store(app, approved=False, category="food_prepackaged")  # licence OR filing receipt
    _submit_and_approve(
        client, shop, admin, permits={"food_business_licence": _days(5), "food_filing_receipt": "2040-01-01"}
    )
    product = _product_id(app, shop, make_product(app, shop)[0])
    _run_daily_job(app, days_ahead=6)
    assert _statuses(app, shop, [product]) == ["on_shelf"]
    assert _audit(app, shop, "qualification.permit_lapsed") == []


def test_a_lapsed_business_licence_closes_the_storefront_until_renewed(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = make_store(app, approved=False)
    _submit_and_approve(client, shop, admin, licence_valid_until=_days(1))
    product = _product_id(app, shop, make_product(app, shop)[0])
    assert client.get(f"{shop.prefix}/").status_code == 200

    _run_daily_job(app, days_ahead=2)
    assert client.get(f"{shop.prefix}/").status_code == 503
    token = merchant_token(client, shop)
    store = client.get(f"{shop.prefix}/api/store", headers=bearer(token)).get_json()
    assert store["status"] == "suspended" and store["status_reason"] == "qualification_expired"
    assert store["qualification"]["status"] == "expired"
    merchant = app.test_client()
    login_merchant(merchant, shop)
    page = _dashboard(merchant, shop)
    assert 'data-kind="qualification"' in page and _days(1) in page  # the notice names the lapsed date
    assert 'data-reason="qualification_expired"' in page and 'data-reason="platform"' not in page
    assert [e.detail["document"] for e in _audit(app, shop, "qualification.expired")] == ["licence"]
    assert _statuses(app, shop, [product]) == ["on_shelf"]  # closed with the store, not taken off one by one

    _submit_and_approve(client, shop, admin, licence_valid_until="2040-01-01")
    assert client.get(f"{shop.prefix}/").status_code == 200
    assert _days(1) not in _dashboard(merchant, shop)


def test_approving_a_qualification_does_not_reopen_a_store_the_platform_suspended(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = make_store(app)
    assert (
        client.post(
            f"/api/admin/stores/{shop.store_id}/suspend", json={"reason": "投诉核查中"}, headers=bearer(admin)
        ).status_code
        == 200
    )
    _submit_and_approve(client, shop, admin)
    assert client.get(f"{shop.prefix}/").status_code == 503
    store = client.get(f"{shop.prefix}/api/store", headers=bearer(merchant_token(client, shop))).get_json()
    assert store["status"] == "suspended" and store["status_reason"] == "投诉核查中"


def test_the_console_shows_why_the_platform_suspended_the_store(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = make_store(app)
    reason = "投诉核查中 <b>请联系客服</b>"
    assert (
        client.post(
            f"/api/admin/stores/{shop.store_id}/suspend", json={"reason": reason}, headers=bearer(admin)
        ).status_code
        == 200
    )
    merchant = app.test_client()
    login_merchant(merchant, shop)
    page = _dashboard(merchant, shop)
    assert 'data-reason="platform"' in page and 'data-reason="qualification_expired"' not in page
    assert "投诉核查中 &lt;b&gt;请联系客服&lt;/b&gt;" in page  # the admin's words, escaped
    assert (
        f'href="{shop.prefix}/console/qualification"' not in page.split('id="suspension"', 1)[1].split("</section>")[0]
    )


def test_the_merchant_is_warned_thirty_days_before_a_document_lapses(app, admin_email):
    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = _food_store(app, client, admin, _days(45))
    merchant = app.test_client()
    login_merchant(merchant, shop)
    _run_daily_job(app, days_ahead=10)  # 35 days before
    assert _days(45) not in _dashboard(merchant, shop)
    _run_daily_job(app, days_ahead=20)  # 25 days before
    page = _dashboard(merchant, shop)
    assert _days(45) in page and "仅销售预包装食品备案凭证" in page
    _run_daily_job(app, days_ahead=21)
    assert _dashboard(merchant, shop).count(_days(45)) == 1
    assert [e.detail["notice"].split(":", 1)[1] for e in _audit(app, shop, "qualification.notice")] == [
        "expiring:permit:food_filing_receipt"
    ]


def test_approved_qualifications_come_back_for_re_verification_after_180_days(app, admin_email, monkeypatch):
    from mallow.qualifications import service

    client = app.test_client()
    admin = _admin(client, admin_email)
    shop = make_store(app, approved=False)
    qualification_id = _submit_and_approve(client, shop, admin)
    page = app.test_client()
    login_admin(page, admin_email)
    row = f'data-qualification-id="{qualification_id}"'
    assert row not in page.get("/admin/qualifications?status=reverify").get_data(as_text=True)

    def api_queue():
        response = client.get("/api/admin/qualifications?status=reverify", headers=bearer(admin))
        assert response.status_code == 200
        return [item["id"] for item in response.get_json()["items"]]

    assert qualification_id not in api_queue()
    real_now = service.utcnow
    monkeypatch.setattr(service, "utcnow", lambda: real_now() + timedelta(days=181))
    queue = page.get("/admin/qualifications?status=reverify").get_data(as_text=True)
    assert row in queue and 'data-due="1"' in queue
    assert qualification_id in api_queue()  # the API has the same queue, documented
    [parameter] = client.get("/api/openapi.json").get_json()["paths"]["/api/admin/qualifications"]["get"]["parameters"]
    assert "reverify" in parameter["schema"]["enum"] and "reverify" in parameter["description"]
    assert client.get(f"{shop.prefix}/").status_code == 200  # open meanwhile
    review = f"/admin/qualifications/{qualification_id}"
    assert 'id="reverify"' in page.get(review).get_data(as_text=True)

    # asking for a resubmission needs a reason, then tells the merchant; the store stays open
    refused = post_form(page, f"{review}/resubmit", {"reason": " "}, form_path=review)
    assert refused.status_code == 422 and 'data-field="reason"' in refused.get_data(as_text=True)
    assert (
        post_form(page, f"{review}/resubmit", {"reason": "请上传最新的营业执照"}, form_path=review).status_code == 303
    )
    merchant = app.test_client()
    login_merchant(merchant, shop)
    assert "请上传最新的营业执照" in _dashboard(merchant, shop)
    assert client.get(f"{shop.prefix}/").status_code == 200
    assert row not in page.get("/admin/qualifications?status=reverify").get_data(as_text=True)

    # nothing came within 30 days: due again; the admin finds the documents still right
    monkeypatch.setattr(service, "utcnow", lambda: real_now() + timedelta(days=212))
    assert row in page.get("/admin/qualifications?status=reverify").get_data(as_text=True)
    assert post_form(page, f"{review}/reverify", {}, form_path=review).status_code == 303
    assert row not in page.get("/admin/qualifications?status=reverify").get_data(as_text=True)
    assert qualification_id not in api_queue()
    assert [e.action for e in _audit(app, shop, "qualification.reverified")] == ["qualification.reverified"]

    # a renewed submission, once approved, answers the request
    monkeypatch.setattr(service, "utcnow", real_now)
    _submit_and_approve(client, shop, admin)
    assert "请上传最新的营业执照" not in _dashboard(merchant, shop)
