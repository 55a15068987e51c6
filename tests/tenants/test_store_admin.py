"""Platform admins suspend and reopen stores; the category → permit matrix is editable data."""

from __future__ import annotations

import io

from mallow.testing import (
    PASSWORD,
    bearer,
    login_admin,
    make_store,
    merchant_token,
    png_bytes,
    post_form,
    qualification_form,
)


def _admin(client, email):
    return client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"}).get_json()[
        "token"
    ]


def test_suspend_and_reopen_through_the_api(app, admin_email):
    shop = make_store(app)
    client = app.test_client()
    token = _admin(client, admin_email)
    assert client.post(f"/api/admin/stores/{shop.store_id}/suspend", json={}, headers=bearer(token)).status_code == 422
    response = client.post(
        f"/api/admin/stores/{shop.store_id}/suspend", json={"reason": "投诉核查中"}, headers=bearer(token)
    )
    assert response.status_code == 200 and response.get_json()["status"] == "suspended"
    assert client.get(f"{shop.prefix}/").status_code == 503
    merchant = merchant_token(client, shop)
    seen = client.get(f"{shop.prefix}/api/store", headers=bearer(merchant)).get_json()
    assert seen["status_reason"] == "投诉核查中"
    again = client.post(f"/api/admin/stores/{shop.store_id}/suspend", json={"reason": "x"}, headers=bearer(token))
    assert again.status_code == 409
    assert client.post(f"/api/admin/stores/{shop.store_id}/reopen", headers=bearer(token)).status_code == 200
    assert client.get(f"{shop.prefix}/").status_code == 200
    listed = client.get("/api/admin/stores?status=open", headers=bearer(token)).get_json()["items"]
    assert shop.slug in [s["slug"] for s in listed]


def test_a_store_without_approval_cannot_be_opened_by_reopen(app, admin_email):
    shop = make_store(app, approved=False)
    client = app.test_client()
    token = _admin(client, admin_email)
    assert client.post(f"/api/admin/stores/{shop.store_id}/reopen", headers=bearer(token)).status_code in (409, 422)
    assert client.get(f"{shop.prefix}/").status_code == 503


def test_admin_stores_page_suspends(app, admin_email):
    shop = make_store(app)
    client = app.test_client()
    login_admin(client, admin_email)
    assert shop.slug in client.get("/admin/stores").get_data(as_text=True)
    response = post_form(
        client, f"/admin/stores/{shop.store_id}/suspend", {"reason": "资质存疑"}, form_path="/admin/stores"
    )
    assert response.status_code == 303
    assert client.get(f"{shop.prefix}/").status_code == 503


def test_edited_matrix_applies_to_the_next_submission(app, admin_email):
    client = app.test_client()
    token = _admin(client, admin_email)
    categories = client.get("/api/categories").get_json()["items"]
    assert any(c["code"] == "books" and c["requirements"][0][0]["code"] == "publication_licence" for c in categories)
    bad = client.put(
        "/api/admin/categories/apparel", json={"requirements": [["no_such_permit"]]}, headers=bearer(token)
    )
    assert bad.status_code == 422
    try:
        ok = client.put(
            "/api/admin/categories/apparel", json={"requirements": [["cosmetics_filing"]]}, headers=bearer(token)
        )
        assert ok.status_code == 200
        shop = make_store(app, approved=False, category="apparel")
        merchant = merchant_token(client, shop)
        data = dict(qualification_form())
        data["licence_image"] = (io.BytesIO(png_bytes()), "l.png")
        response = client.post(
            f"{shop.prefix}/api/console/qualifications",
            data=data,
            headers=bearer(merchant),
            content_type="multipart/form-data",
        )
        assert response.status_code == 422
        assert "permit_cosmetics_filing_number" in response.get_json()["fields"]
    finally:
        client.put("/api/admin/categories/apparel", json={"requirements": []}, headers=bearer(token))
    with app.app_context():
        from mallow.audit import AuditEntry
        from mallow.db import db

        assert db.session.execute(
            db.select(AuditEntry).where(
                AuditEntry.action == "category.requirements_changed", AuditEntry.target == "category:apparel"
            )
        ).first()
