"""Store A's credentials against store B: every attempt is refused and B's data never shows."""
from __future__ import annotations

import pytest

from mallow.testing import bearer, login_merchant, make_store, merchant_token, post_form, register_shopper


@pytest.fixture
def two_stores(app):
    return make_store(app), make_store(app)


def test_staff_session_of_a_is_refused_in_b_console(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    login_merchant(client, a)
    assert client.get(f"{a.prefix}/console/").status_code == 200
    response = client.get(f"{b.prefix}/console/")
    assert response.status_code == 403
    assert f"店铺 {b.slug}" not in response.get_data(as_text=True)
    assert client.get(f"{b.prefix}/console/qualification").status_code == 403


def test_staff_session_of_a_cannot_submit_to_b(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    login_merchant(client, a)
    response = post_form(client, f"{b.prefix}/console/qualification", {"uscc": "x"},
                         form_path=f"{a.prefix}/console/qualification")  # a valid CSRF token of A's page
    assert response.status_code == 403
    with app.app_context():
        from mallow.qualifications import service

        assert service.history(b.store_id)[0].revision == 1  # only B's own approved submission


def test_merchant_token_of_a_is_refused_on_b_api(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    token = merchant_token(client, a)
    assert client.get(f"{a.prefix}/api/console/qualifications", headers=bearer(token)).status_code == 200
    response = client.get(f"{b.prefix}/api/console/qualifications", headers=bearer(token))
    assert response.status_code == 403
    assert "items" not in response.get_json()


def test_store_scoped_token_works_only_in_its_store(app):
    a = make_store(app)
    with app.app_context():
        from mallow.accounts.models import Staff
        from mallow.db import db
        from mallow.tenants.context import store_context

    # the same merchant staffs a second store: a token limited to A must still not reach it
    second = make_store(app)
    with store_context(second.store_id, app=app):
        db.session.add(Staff(merchant_id=a.merchant_id, role="staff"))
        db.session.commit()
    client = app.test_client()
    everywhere = merchant_token(client, a)
    only_a = merchant_token(client, a, store=a.slug)
    assert client.get(f"{second.prefix}/api/console/qualifications", headers=bearer(everywhere)).status_code == 200
    assert client.get(f"{second.prefix}/api/console/qualifications", headers=bearer(only_a)).status_code == 403
    assert client.get(f"{a.prefix}/api/console/qualifications", headers=bearer(only_a)).status_code == 200


def test_shopper_session_of_a_is_not_a_session_in_b(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    register_shopper(client, a)
    assert client.get(f"{a.prefix}/account").status_code == 200
    response = client.get(f"{b.prefix}/account")
    assert response.status_code == 302
    assert f"{b.prefix}/login" in response.headers["Location"]


def test_shopper_token_of_a_is_refused_in_b(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    created = client.post(f"{a.prefix}/api/customers", json={"login": "13900000001", "password": "pass-word-1"})
    assert created.status_code == 201, created.get_json()
    token = created.get_json()["token"]
    assert client.get(f"{a.prefix}/api/me", headers=bearer(token)).status_code == 200
    response = client.get(f"{b.prefix}/api/me", headers=bearer(token))
    assert response.status_code == 401
    assert "nickname" not in response.get_json()


def test_same_login_in_two_stores_is_two_separate_accounts(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    for shop in (a, b):
        response = client.post(f"{shop.prefix}/api/customers", json={"login": "shared@example.com", "password": "pass-word-1"})
        assert response.status_code == 201
    login_a = client.post(f"{a.prefix}/api/tokens", json={"login": "shared@example.com", "password": "pass-word-1"})
    me_a = client.get(f"{a.prefix}/api/me", headers=bearer(login_a.get_json()["token"])).get_json()
    login_b = client.post(f"{b.prefix}/api/tokens", json={"login": "shared@example.com", "password": "pass-word-1"})
    me_b = client.get(f"{b.prefix}/api/me", headers=bearer(login_b.get_json()["token"])).get_json()
    assert me_a["id"] == me_b["id"] == 1  # each store numbers its own rows: different tables


def test_shopper_credentials_are_refused_on_merchant_and_platform_routes(app, two_stores):
    a, _ = two_stores
    client = app.test_client()
    created = client.post(f"{a.prefix}/api/customers", json={"login": "13900000002", "password": "pass-word-1"})
    token = created.get_json()["token"]
    register_shopper(client, a)
    assert client.get(f"{a.prefix}/console/").status_code == 302  # to the merchant login
    assert client.get("/admin/qualifications").status_code == 302
    assert client.get(f"{a.prefix}/api/console/qualifications", headers=bearer(token)).status_code == 401
    assert client.get("/api/admin/qualifications", headers=bearer(token)).status_code == 401


def test_merchant_token_is_not_an_admin_token(app, two_stores):
    a, _ = two_stores
    client = app.test_client()
    token = merchant_token(client, a)
    assert client.get("/api/admin/qualifications", headers=bearer(token)).status_code == 401


def test_forged_and_unknown_slugs(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    login_merchant(client, a)
    for path in ("/s/no-such-store/console/", "/s/../console/", f"/s/{a.slug}%2F..%2F{b.slug}/console/",
                 f"/s/{a.slug.upper()}/console/", "/s/admin/console/"):
        assert client.get(path).status_code == 404, path


def test_subdomain_resolves_the_same_store(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    host = f"{a.slug}.{app.config['MALLOW_STORE_DOMAIN']}"
    page = client.get("/", headers={"Host": host})
    assert page.status_code == 200 and f"店铺 {a.slug}" in page.get_data(as_text=True)
    assert client.get("/api/store", headers={"Host": host}).get_json()["slug"] == a.slug
    # a path naming another store on A's host never reaches B
    assert client.get(f"/s/{b.slug}/api/store", headers={"Host": host}).status_code == 404
    # platform pages are not served on store hosts
    assert client.get("/admin/login", headers={"Host": host}).status_code == 404


def test_tenant_never_comes_from_headers_query_or_body(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    token = merchant_token(client, a)
    response = client.get(f"{b.prefix}/api/console/qualifications?store={a.slug}",
                          headers={**bearer(token), "X-Store": a.slug, "X-Tenant": a.slug})
    assert response.status_code == 403


def test_denials_are_audited(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    token = merchant_token(client, a)
    client.get(f"{b.prefix}/api/console/qualifications", headers=bearer(token))
    with app.app_context():
        from mallow.audit import AuditEntry
        from mallow.db import db

        entry = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "access.denied",
                                                               AuditEntry.store_id == b.store_id)).scalars().first()
        assert entry is not None and entry.actor_id == a.merchant_id


def test_removing_a_staff_member_takes_effect_on_the_next_request(app):
    owner = make_store(app)
    helper = make_store(app)  # a second merchant, made staff of owner's store
    from mallow.accounts.models import Staff
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(owner.store_id, app=app):
        db.session.add(Staff(merchant_id=helper.merchant_id, role="staff"))
        db.session.commit()
    client = app.test_client()
    login_merchant(client, helper)
    assert client.get(f"{owner.prefix}/console/").status_code == 200
    assert client.get(f"{owner.prefix}/console/qualification").status_code == 403  # owner only
    with store_context(owner.store_id, app=app):
        db.session.execute(db.delete(Staff).where(Staff.merchant_id == helper.merchant_id))
        db.session.commit()
    assert client.get(f"{owner.prefix}/console/").status_code == 403


def test_suspending_a_store_closes_its_storefront_on_the_next_request(app):
    shop = make_store(app)
    client = app.test_client()
    assert client.get(f"{shop.prefix}/").status_code == 200
    with app.app_context():
        from mallow.db import db
        from mallow.tenants.models import STORE_STATES, Store

        store = db.session.get(Store, shop.store_id)
        STORE_STATES.move(store, "suspended")
        db.session.commit()
    page = client.get(f"{shop.prefix}/")
    assert page.status_code == 503
    assert client.post(f"{shop.prefix}/api/customers", json={"login": "13700000000", "password": "pass-word-1"}).status_code == 503


def test_signing_up_a_store_inside_another_store_context_keeps_that_store(app):
    """Provisioning borrows the caller's connection on PostgreSQL; it must hand it back with the
    caller's own store schema, not the new store's."""
    from mallow.accounts.models import Staff
    from mallow.db import db
    from mallow.merchants.signup import signup_merchant
    from mallow.tenants.context import store_context

    a = make_store(app)
    with app.test_request_context(), store_context(a.store_id, app=app):
        before = [s.merchant_id for s in db.session.execute(db.select(Staff)).scalars()]
        slug = f"nested-{a.slug[-8:]}"
        signup_merchant({"email": f"{slug}@example.com", "password": "nested-pass-1", "name": "新店主",
                         "store_name": "嵌套新店", "slug": slug, "main_category": "general"})
        after = [s.merchant_id for s in db.session.execute(db.select(Staff)).scalars()]
    assert before == after == [a.merchant_id]
