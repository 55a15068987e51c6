"""Merchant self sign-up through the page and the API: clear field errors, nothing half made."""

from __future__ import annotations


import pytest

from mallow.testing import post_form, unique_slug


def _form(**overrides):
    slug = unique_slug("new")
    data = {
        "email": f"{slug}@example.com",
        "password": "tea-house-2026",
        "name": "王老板",
        "store_name": "王记茶庄",
        "slug": slug,
        "main_category": "food_prepackaged",
    }
    data.update(overrides)
    return data


def _counts(app, slug=None, email=None):
    from mallow.accounts.models import Merchant
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        stores = db.session.execute(db.select(db.func.count()).select_from(Store).where(Store.slug == slug)).scalar()
        merchants = db.session.execute(
            db.select(db.func.count()).select_from(Merchant).where(Merchant.email == email)
        ).scalar()
        return stores, merchants


def _schemas_or_files(app):
    engines = app.extensions["mallow.store_engines"]
    if engines.is_postgresql:
        with app.app_context():
            from mallow.db import db

            with db.engine.connect() as c:
                return {
                    r[0] for r in c.exec_driver_sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'store_%%'")
                }
    return {p.name for p in (engines.data_dir / "stores").glob("*.db")}


def test_signup_page_creates_merchant_store_and_owner_and_signs_in(app):
    client = app.test_client()
    data = _form()
    response = post_form(client, "/merchant/signup", data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/s/{data['slug']}/console/qualification")
    page = client.get(f"/s/{data['slug']}/console/qualification")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "食品经营许可证" in text  # pre-packaged food asks for a permit
    assert client.get(f"/s/{data['slug']}/").status_code == 503  # not open before approval


def test_signup_api_returns_a_token_for_the_new_store(app):
    client = app.test_client()
    data = _form()
    response = client.post("/api/merchants", json=data)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["store"]["status"] == "pending" and body["store"]["slug"] == data["slug"]
    token = body["token"]
    store = client.get(f"/s/{data['slug']}/api/store", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert store["qualification"] is None and store["status"] == "pending"


@pytest.mark.parametrize(
    "field,value,code",
    [
        ("email", "not-an-email", "invalid"),
        ("password", "short1", "too_short"),
        ("password", "onlyletters", "too_simple"),
        ("slug", "admin", "reserved"),
        ("slug", "api", "reserved"),
        ("slug", "www", "reserved"),
        ("slug", "Bad Slug!", "invalid"),
        ("slug", "-edge", "invalid"),
        ("slug", "a", "invalid"),
        ("store_name", "x", "length"),
        ("main_category", "weapons", "invalid"),
        ("name", "", "required"),
    ],
)
def test_signup_field_errors_create_nothing(app, field, value, code):
    client = app.test_client()
    before = _schemas_or_files(app)
    data = _form(**{field: value})
    response = client.post("/api/merchants", json=data)
    assert response.status_code == 422
    assert response.get_json()["fields"][field]["code"] == code
    assert response.get_json()["fields"][field]["message"]
    assert _counts(app, data["slug"], data["email"]) == (0, 0)
    assert _schemas_or_files(app) == before


def test_duplicate_slug_and_email(app):
    client = app.test_client()
    first = _form()
    assert client.post("/api/merchants", json=first).status_code == 201
    again = _form(slug=first["slug"])
    response = client.post("/api/merchants", json=again)
    assert response.status_code == 422
    assert response.get_json()["fields"]["slug"]["code"] == "taken"
    assert _counts(app, email=again["email"])[1] == 0
    response = client.post("/api/merchants", json=_form(email=first["email"].upper()))
    assert response.get_json()["fields"]["email"]["code"] == "taken"


def test_signup_page_shows_errors_beside_fields_and_keeps_input(app):
    client = app.test_client()
    response = post_form(client, "/merchant/signup", _form(slug="admin", store_name="好店"))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'data-field="slug"' in text
    assert 'value="好店"' in text  # what the merchant typed is still there
    assert 'aria-invalid="true"' in text


def test_signup_json_with_wrong_types_is_a_field_error_not_a_500(app):
    client = app.test_client()
    response = client.post("/api/merchants", json={"email": 5, "password": None})
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert {"email", "password", "slug"} <= set(fields)
    assert client.post("/api/merchants", data="{not json", content_type="application/json").status_code == 400


def test_a_failure_while_provisioning_leaves_nothing_behind(app, monkeypatch):
    from mallow.tenants import provisioning

    def broken(connection, version_table_schema):
        raise RuntimeError("disk full")

    monkeypatch.setattr(provisioning, "create_store_tables", broken)
    before = _schemas_or_files(app)
    data = _form()
    client = app.test_client()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.post("/api/merchants", json=data)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert _counts(app, data["slug"], data["email"]) == (0, 0)
    assert _schemas_or_files(app) == before
