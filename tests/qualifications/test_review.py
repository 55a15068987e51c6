"""Submitting qualifications, the review queue, approval, rejection and resubmission."""

from __future__ import annotations

import io

import pytest

from mallow.testing import (
    bearer,
    login_admin,
    login_merchant,
    make_store,
    merchant_token,
    png_bytes,
    post_form,
    qualification_form,
)


def _submit(client, shop, token, files=None, **overrides):
    data = dict(qualification_form(**overrides))
    files = {"licence_image": (io.BytesIO(png_bytes()), "licence.png")} if files is None else files
    data.update(files)
    return client.post(
        f"{shop.prefix}/api/console/qualifications",
        data=data,
        headers=bearer(token),
        content_type="multipart/form-data",
    )


def _admin_token(client, email):
    from mallow.testing import PASSWORD

    response = client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"})
    assert response.status_code == 201
    return response.get_json()["token"]


def _uploads(app):
    from pathlib import Path

    return sorted(p.name for p in (Path(app.config["MALLOW_DATA_DIR"]) / "uploads").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "overrides,field,code",
    [
        ({"uscc": "91110000600037341N"}, "uscc", "check"),
        ({"uscc": "9111000060003IOZSV"}, "uscc", "charset"),
        ({"uscc": "123"}, "uscc", "length"),
        ({"subject_type": "individual_business"}, "uscc", "subject_mismatch"),
        ({"legal_rep_id_number": "110105194912310021"}, "legal_rep_id_number", "invalid"),
        ({"contact_phone": "12345"}, "contact_phone", "invalid"),
        ({"licence_valid_until": "2020-01-01"}, "licence_valid_until", "expired"),
        ({"licence_valid_until": "next year"}, "licence_valid_until", "invalid"),
        ({"legal_name": ""}, "legal_name", "required"),
    ],
)
def test_invalid_fields_are_refused_with_field_errors(app, overrides, field, code):
    shop = make_store(app, approved=False)
    client = app.test_client()
    before = _uploads(app)
    response = _submit(client, shop, merchant_token(client, shop), **overrides)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["fields"][field]["code"] == code
    _nothing_saved(app, shop, before)


def _nothing_saved(app, shop, uploads_before):
    """No upload file and no qualification row (or permit row) was left by a refused submission."""
    from mallow.db import db
    from mallow.qualifications.models import Qualification, QualificationPermit

    assert _uploads(app) == uploads_before
    with app.app_context():
        ids = (
            db.session.execute(db.select(Qualification.id).where(Qualification.store_id == shop.store_id))
            .scalars()
            .all()
        )
        permits = (
            db.session.execute(
                db.select(QualificationPermit.id).where(QualificationPermit.qualification_id.in_(ids or [0]))
            )
            .scalars()
            .all()
        )
    assert ids == [] and permits == []


@pytest.mark.parametrize(
    "payload,code",
    [
        (b"%PDF-1.4 not an image", "not_image"),
        (b"GIF89a" + b"\0" * 100, "not_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "not_image"),
        (b"", "empty"),  # a file with no bytes
        (None, "required"),  # no file at all
    ],
)
def test_non_images_are_refused(app, payload, code):
    shop = make_store(app, approved=False)
    client = app.test_client()
    before = _uploads(app)
    files = {} if payload is None else {"licence_image": (io.BytesIO(payload), "licence.png")}
    response = _submit(client, shop, merchant_token(client, shop), files=files)
    assert response.status_code == 422
    assert response.get_json()["fields"]["licence_image"]["code"] == code
    _nothing_saved(app, shop, before)


def test_oversized_licence_is_refused(app):
    shop = make_store(app, approved=False)
    client = app.test_client()
    before = _uploads(app)
    big = png_bytes() + b"\0" * (5 * 1024 * 1024)
    response = _submit(
        client, shop, merchant_token(client, shop), files={"licence_image": (io.BytesIO(big), "../../etc/passwd.png")}
    )
    assert response.status_code == 422
    assert response.get_json()["fields"]["licence_image"]["code"] == "too_large"
    _nothing_saved(app, shop, before)


def test_a_bad_permit_image_leaves_no_licence_file_behind(app):
    """The licence image is stored first; when a permit image is refused after it, it goes again."""
    shop = make_store(app, approved=False, category="food_prepackaged")
    client = app.test_client()
    before = _uploads(app)
    files = {
        "licence_image": (io.BytesIO(png_bytes()), "l.png"),
        "permit_food_filing_receipt_image": (io.BytesIO(b"%PDF-1.4 a scan"), "p.png"),
    }
    response = _submit(
        client,
        shop,
        merchant_token(client, shop),
        files=files,
        permit_food_filing_receipt_number="浙食备 330001",
        permit_food_filing_receipt_valid_until="2030-01-01",
    )
    assert response.status_code == 422
    assert response.get_json()["fields"]["permit_food_filing_receipt_image"]["code"] == "not_image"
    assert "licence_image" not in response.get_json()["fields"]
    _nothing_saved(app, shop, before)


def test_request_larger_than_the_body_limit_is_a_clear_413(app):
    shop = make_store(app, approved=False)
    client = app.test_client()
    huge = b"\0" * (13 * 1024 * 1024)
    response = _submit(client, shop, merchant_token(client, shop), files={"licence_image": (io.BytesIO(huge), "x.png")})
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"


def test_food_category_without_a_permit_is_refused_and_with_one_accepted(app):
    shop = make_store(app, approved=False, category="food_prepackaged")
    client = app.test_client()
    token = merchant_token(client, shop)
    before = _uploads(app)
    response = _submit(client, shop, token)
    assert response.status_code == 422
    error = response.get_json()["fields"]["permit_food_business_licence_number"]
    assert error["code"] == "missing_permit" and "食品经营许可证" in error["message"]
    _nothing_saved(app, shop, before)
    files = {
        "licence_image": (io.BytesIO(png_bytes()), "l.png"),
        "permit_food_filing_receipt_image": (io.BytesIO(png_bytes()), "p.png"),
    }
    response = _submit(
        client,
        shop,
        token,
        files=files,
        permit_food_filing_receipt_number="浙食备 330001",
        permit_food_filing_receipt_valid_until="2030-01-01",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["permits"][0]["kind"] == "food_filing_receipt"


def test_health_food_needs_both_groups(app):
    shop = make_store(app, approved=False, category="special_food")
    client = app.test_client()
    before = _uploads(app)
    files = {
        "licence_image": (io.BytesIO(png_bytes()), "l.png"),
        "permit_food_business_licence_image": (io.BytesIO(png_bytes()), "p.png"),
    }
    response = _submit(
        client,
        shop,
        merchant_token(client, shop),
        files=files,
        permit_food_business_licence_number="JY13301000000001",
        permit_food_business_licence_valid_until="2030-01-01",
    )
    assert response.status_code == 422
    assert response.get_json()["fields"]["permit_special_food_registration_number"]["code"] == "missing_permit"
    _nothing_saved(app, shop, before)


def test_same_application_id_is_idempotent(app):
    shop = make_store(app, approved=False)
    client = app.test_client()
    token = merchant_token(client, shop)
    first = _submit(client, shop, token, application_id="app-42-x")
    again = _submit(client, shop, token, application_id="app-42-x")
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"]
    listed = client.get(f"{shop.prefix}/api/console/qualifications", headers=bearer(token)).get_json()["items"]
    assert len(listed) == 1


def test_a_nul_in_a_text_field_is_dropped_not_a_server_error(app):
    """A NUL byte is never typed text (PostgreSQL refuses it in a text column): the submission is
    taken as if it were not there, on both backends, instead of a 500."""
    shop = make_store(app, approved=False)
    client = app.test_client()
    token = merchant_token(client, shop)
    first = _submit(client, shop, token, application_id="app-\x0043")
    again = _submit(client, shop, token, application_id="app-43")
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"]


def test_review_flow_reject_resubmit_approve_opens_the_store(app, admin_email):
    shop = make_store(app, approved=False)
    client = app.test_client()
    token = merchant_token(client, shop)
    admin = _admin_token(client, admin_email)
    assert client.get(f"{shop.prefix}/").status_code == 503
    submitted = _submit(client, shop, token).get_json()
    queue = client.get("/api/admin/qualifications", headers=bearer(admin)).get_json()["items"]
    assert submitted["id"] in [q["id"] for q in queue]
    assert next(q for q in queue if q["id"] == submitted["id"])["legal_rep_id"] == "110***********002X"

    # reject needs a reason
    no_reason = client.post(
        f"/api/admin/qualifications/{submitted['id']}/reject", json={"reason": " "}, headers=bearer(admin)
    )
    assert no_reason.status_code == 422 and no_reason.get_json()["fields"]["reason"]["code"] == "required"
    rejected = client.post(
        f"/api/admin/qualifications/{submitted['id']}/reject",
        headers=bearer(admin),
        json={"reason": "执照照片模糊", "field_reasons": {"licence_image": "请上传清晰照片"}},
    )
    assert rejected.status_code == 200
    # the merchant sees the outcome
    store = client.get(f"{shop.prefix}/api/store", headers=bearer(token)).get_json()
    assert store["qualification"] == {
        "status": "rejected",
        "decision_reason": "执照照片模糊",
        "field_reasons": {"licence_image": "请上传清晰照片"},
    }
    assert store["status"] == "pending"
    # a decided submission cannot be decided again
    again = client.post(f"/api/admin/qualifications/{submitted['id']}/approve", json={}, headers=bearer(admin))
    assert again.status_code == 409

    resubmitted = _submit(client, shop, token).get_json()
    assert resubmitted["revision"] == 2
    approved = client.post(f"/api/admin/qualifications/{resubmitted['id']}/approve", json={}, headers=bearer(admin))
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert client.get(f"{shop.prefix}/").status_code == 200
    public = client.get(f"{shop.prefix}/api/store").get_json()
    assert public["status"] == "open" and public["business_licence"]["uscc"] == "91350100M000100Y43"
    assert "qualification" not in public  # review details are for the store's staff only

    with app.app_context():
        from mallow.audit import AuditEntry
        from mallow.db import db

        actions = [
            e.action
            for e in db.session.execute(
                db.select(AuditEntry).where(AuditEntry.store_id == shop.store_id).order_by(AuditEntry.id)
            ).scalars()
        ]
    assert actions == [
        "merchant.signed_up",
        "qualification.submitted",
        "qualification.rejected",
        "qualification.submitted",
        "store.opened",
        "qualification.approved",
    ]


def test_admin_pages_review_queue_and_approve(app, admin_email):
    shop = make_store(app, approved=False)
    merchant = app.test_client()
    login_merchant(merchant, shop)
    form = dict(qualification_form())
    form["licence_image"] = (io.BytesIO(png_bytes()), "licence.png")
    response = post_form(merchant, f"{shop.prefix}/console/qualification", form, content_type="multipart/form-data")
    assert response.status_code == 303
    assert 'data-status="submitted"' in merchant.get(f"{shop.prefix}/console/").get_data(as_text=True)

    admin = app.test_client()
    login_admin(admin, admin_email)
    queue = admin.get("/admin/qualifications").get_data(as_text=True)
    assert f"/s/{shop.slug}" in queue
    with app.app_context():
        from mallow.qualifications.service import latest

        qualification_id = latest(shop.store_id).id
    review = admin.get(f"/admin/qualifications/{qualification_id}")
    assert review.status_code == 200 and "91350100M000100Y43" in review.get_data(as_text=True)
    image = admin.get(f"/admin/qualifications/{qualification_id}/files/licence")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert merchant.get(f"/admin/qualifications/{qualification_id}/files/licence").status_code == 302
    response = post_form(
        admin,
        f"/admin/qualifications/{qualification_id}/approve",
        {},
        form_path=f"/admin/qualifications/{qualification_id}",
    )
    assert response.status_code == 303
    assert merchant.get(f"{shop.prefix}/").status_code == 200


def test_licence_images_are_private_to_the_store_and_admins(app):
    a, b = make_store(app), make_store(app)
    client = app.test_client()
    login_merchant(client, a)
    with app.app_context():
        from mallow.qualifications.service import latest

        b_qualification = latest(b.store_id).id
        a_qualification = latest(a.store_id).id
    assert client.get(f"{a.prefix}/console/qualification/{a_qualification}/files/licence").status_code == 200
    assert client.get(f"{a.prefix}/console/qualification/{b_qualification}/files/licence").status_code == 404
    assert client.get(f"{b.prefix}/console/qualification/{b_qualification}/files/licence").status_code == 403


def test_uploaded_images_are_reencoded_under_server_names(app):
    shop = make_store(app, approved=False)
    client = app.test_client()
    payload = png_bytes() + b"<script>alert(1)</script>"  # trailing junk after the image data
    response = _submit(
        client, shop, merchant_token(client, shop), files={"licence_image": (io.BytesIO(payload), "../../evil.php.png")}
    )
    assert response.status_code == 201
    from pathlib import Path

    files = list((Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / str(shop.store_id)).rglob("*.png"))
    assert files and all("evil" not in f.name for f in files)
    assert all(b"<script>" not in f.read_bytes() for f in files)
