"""Store A's credentials against store B: every attempt is refused and B's data never shows."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from mallow.testing import (
    bearer,
    csrf_token,
    login_merchant,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    png_bytes,
    post_form,
    register_shopper,
)


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
    response = post_form(
        client, f"{b.prefix}/console/qualification", {"uscc": "x"}, form_path=f"{a.prefix}/console/qualification"
    )  # a valid CSRF token of A's page
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
    created = client.post(
        f"{a.prefix}/api/customers", json={"login": "13900000001", "password": "pass-word-1", "privacy_consent": True}
    )
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
        response = client.post(
            f"{shop.prefix}/api/customers",
            json={"login": "shared@example.com", "password": "pass-word-1", "privacy_consent": True},
        )
        assert response.status_code == 201
    login_a = client.post(f"{a.prefix}/api/tokens", json={"login": "shared@example.com", "password": "pass-word-1"})
    me_a = client.get(f"{a.prefix}/api/me", headers=bearer(login_a.get_json()["token"])).get_json()
    login_b = client.post(f"{b.prefix}/api/tokens", json={"login": "shared@example.com", "password": "pass-word-1"})
    me_b = client.get(f"{b.prefix}/api/me", headers=bearer(login_b.get_json()["token"])).get_json()
    assert me_a["id"] == me_b["id"] == 1  # each store numbers its own rows: different tables


def test_shopper_credentials_are_refused_on_merchant_and_platform_routes(app, two_stores):
    a, _ = two_stores
    client = app.test_client()
    created = client.post(
        f"{a.prefix}/api/customers", json={"login": "13900000002", "password": "pass-word-1", "privacy_consent": True}
    )
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
    for path in (
        "/s/no-such-store/console/",
        "/s/../console/",
        f"/s/{a.slug}%2F..%2F{b.slug}/console/",
        f"/s/{a.slug.upper()}/console/",
        "/s/admin/console/",
    ):
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
    response = client.get(
        f"{b.prefix}/api/console/qualifications?store={a.slug}",
        headers={**bearer(token), "X-Store": a.slug, "X-Tenant": a.slug},
    )
    assert response.status_code == 403


def test_denials_are_audited(app, two_stores):
    a, b = two_stores
    client = app.test_client()
    token = merchant_token(client, a)
    client.get(f"{b.prefix}/api/console/qualifications", headers=bearer(token))
    with app.app_context():
        from mallow.audit import AuditEntry
        from mallow.db import db

        entry = (
            db.session.execute(
                db.select(AuditEntry).where(AuditEntry.action == "access.denied", AuditEntry.store_id == b.store_id)
            )
            .scalars()
            .first()
        )
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
    assert (
        client.post(
            f"{shop.prefix}/api/customers",
            json={"login": "13700000000", "password": "pass-word-1", "privacy_consent": True},
        ).status_code
        == 503
    )


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
        signup_merchant(
            {
                "email": f"{slug}@example.com",
                "password": "nested-pass-1",
                "name": "新店主",
                "store_name": "嵌套新店",
                "slug": slug,
                "main_category": "general",
            }
        )
        after = [s.merchant_id for s in db.session.execute(db.select(Staff)).scalars()]
    assert before == after == [a.merchant_id]


# --- every store-scoped console and API route, with store A's credentials against store B --------

CONSOLE_PAGES = "/s/<store_slug>/console/"
CONSOLE_API = "/s/<store_slug>/api/console/"
STORE_API = "/s/<store_slug>/api/"
ARGUMENT = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
#: routes the walk must reach (a refactor that stops finding them fails here, not silently)
MUST_WALK = {
    ("POST", "console_api.shipOrder"),
    ("POST", "console_api.noteOrder"),
    ("GET", "console_api.exportOrders"),
    ("POST", "console_api.decideAfterSale"),
    ("POST", "console_api.confirmReturn"),
    ("DELETE", "console_api.deleteProductCategory"),
    ("DELETE", "console_api.deleteProductImage"),
    ("PUT", "console_api.setWeChatPayConfig"),
    ("POST", "console_api.enableStorePlugin"),
    ("POST", "console_api.disableStorePlugin"),
    ("POST", "console_api.publishPage"),
    ("DELETE", "console_api.deleteMedia"),
    ("POST", "console.ship_order"),
    ("POST", "console.note_order"),
    ("GET", "console.export_orders"),
    ("POST", "console.aftersale_action"),
    ("POST", "console.category_delete"),
    ("POST", "console.product_edit"),
    ("POST", "payments_console.settings"),
    ("POST", "console.switch_plugin"),
    ("POST", "page_editor.unpublish"),
    ("POST", "store_api.cancelOrder"),
    ("POST", "store_api.requestAfterSale"),
    ("GET", "store_api.getOrder"),
}


def _stocked_store(app):
    """A store with something behind every kind of route: a category, a product with an image, a
    media image, a shipping template, a paid order and a delivered one with an after-sales request."""
    from mallow.testing.payments import pay_with_sandbox, place_order

    shop = make_store(app)
    client = app.test_client()
    owner = bearer(merchant_token(client, shop))
    api = f"{shop.prefix}/api/console"
    ids = {"staff_id": 1, "page_ref": "home", "index": 0}
    ids["category_id"] = client.post(f"{api}/categories", headers=owner, json={"name": "坚果炒货"}).get_json()["id"]
    [sku] = make_product(app, shop, title="B 店的山核桃", stock=10)
    ids["sku_id"] = sku
    product = client.get(f"{shop.prefix}/api/products", headers=owner).get_json()["items"][0]
    ids["product_id"] = product["id"]
    with_image = client.post(
        f"{api}/products/{product['id']}/images",
        headers=owner,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes()), "p.png")},
    )
    assert with_image.status_code == 201, with_image.get_json()
    ids["image_id"] = with_image.get_json()["images"][0]["id"]
    media = client.post(
        f"{api}/media",
        headers=owner,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes()), "m.png")},
    )
    assert media.status_code == 201, media.get_json()
    ids["media_id"] = media.get_json()["id"]
    template = client.post(
        f"{api}/shipping-templates", headers=owner, json={"name": "B 店运费", "rules": [{"first": 1, "first_fee": 800}]}
    )
    assert template.status_code == 201, template.get_json()
    ids["template_id"] = template.get_json()["id"]
    shopper, address = make_shopper(client, shop)
    paid = place_order(client, shop, shopper, address, sku)
    pay_with_sandbox(client, shop, shopper, paid["id"])
    delivered = place_order(client, shop, shopper, address, sku)
    pay_with_sandbox(client, shop, shopper, delivered["id"])
    assert (
        client.post(
            f"{api}/orders/{delivered['id']}/ship",
            headers=owner,
            json={"carrier": "中通快递", "tracking_number": "ZT0001"},
        ).status_code
        == 200
    )
    assert (
        client.post(f"{shop.prefix}/api/orders/{delivered['id']}/confirm", headers=bearer(shopper)).status_code == 200
    )
    asked = client.post(
        f"{shop.prefix}/api/orders/{delivered['id']}/aftersales",
        headers=bearer(shopper),
        json={"kind": "return_refund", "reason": "尺码不合适"},
    )
    assert asked.status_code == 201, asked.get_json()
    ids.update(order_id=paid["id"], aftersale_id=asked.get_json()["id"], number=paid["number"])
    with app.app_context():
        from mallow.builder.models import Page
        from mallow.db import db
        from mallow.qualifications.service import latest
        from mallow.tenants.context import store_context

        ids["qualification_id"] = latest(shop.store_id).id
    with store_context(shop.store_id, app=app):
        ids["page_id"] = db.session.execute(sa.select(Page.id).order_by(Page.id)).scalars().first() or 1
    return shop, ids


def _url(rule: str, slug: str, ids: dict) -> str:
    def fill(match):
        converter, options, name = match.groups()
        if name == "store_slug":
            return slug
        if converter == "any":
            return options.split(",")[0].strip()
        if name in ids:
            return str(ids[name])
        return {"name": "flashsale", "which": "licence", "provider": "sandbox", "path": "x.png"}.get(
            name, "1" if converter == "int" else "x"
        )

    return ARGUMENT.sub(fill, rule)


def _walked_routes(app):
    """``(method, endpoint, rule, credentials)`` of every store-scoped route that needs a merchant
    (console pages and console API) or a shopper (store API operations declared with shopper auth)."""
    from mallow.api.registry import api_of

    shopper_ops = {op.operation_id for op in api_of(app).operations if op.auth == "shopper"}
    for rule in app.url_map.iter_rules():
        credentials = None
        if rule.rule.startswith(CONSOLE_PAGES):
            credentials = "staff_session"
        elif rule.rule.startswith(CONSOLE_API):
            credentials = "merchant_token"
        elif rule.rule.startswith(STORE_API) and rule.endpoint.split(".")[-1] in shopper_ops:
            credentials = "shopper_token"
        if credentials:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.endpoint, rule.rule, credentials


def _store_rows(app, shop) -> dict:
    """Every row of the store's own tables and of its platform rows, and its upload files."""
    from mallow.db import db, store_metadata
    from mallow.qualifications.models import Qualification
    from mallow.tenants.models import Store

    rows = {}
    engines = app.extensions["mallow.store_engines"]
    with app.app_context():
        schema = f"store_{shop.store_id}" if engines.is_postgresql else "store"
        with engines.engine_for(shop.store_id).connect() as connection:  # PostgreSQL: schema-translated
            present = set(sa.inspect(connection).get_table_names(schema=schema))
            for table in store_metadata.sorted_tables:
                if table.name in present:
                    rows[table.name] = sorted(map(repr, connection.execute(sa.select(table)).all()))
        rows["stores"] = repr(db.session.execute(sa.select(Store.__table__).where(Store.id == shop.store_id)).all())
        rows["qualifications"] = repr(
            db.session.execute(sa.select(Qualification.__table__).where(Qualification.store_id == shop.store_id)).all()
        )
    assert {"orders", "products", "product_images", "aftersales", "staff"} <= set(rows)
    uploads = Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / str(shop.store_id)
    rows["files"] = sorted(str(p.relative_to(uploads)) for p in uploads.rglob("*") if p.is_file())
    return rows


def _denials(app, store_id: int) -> list:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEntry.target, AuditEntry.actor_id)
                .where(AuditEntry.action == "access.denied", AuditEntry.store_id == store_id)
                .order_by(AuditEntry.id)
            ).all()
        )


def _audit_text(app) -> str:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return repr(db.session.execute(sa.select(AuditEntry.__table__)).all())


def test_every_store_route_refuses_store_a_credentials_in_b_and_changes_nothing(app):
    """Store A's staff session, merchant token and shopper token against each console page, console
    API and shopper API route of store B (found in the URL map, so new routes are walked too):
    403 for A's staff, 401 for A's shopper (unknown in B), each in the audit log, none of B's data in the
    answer, and B's rows and files untouched."""
    a = make_store(app)
    b, ids = _stocked_store(app)
    staff = app.test_client()
    login_merchant(staff, a)
    csrf = csrf_token(staff, f"{a.prefix}/console/staff")  # a valid token of A's own session
    api = app.test_client()
    merchant = bearer(merchant_token(api, a))
    shopper_secret = make_shopper(api, a)[0]
    shopper = bearer(shopper_secret)
    secrets = ("B 店的山核桃", "坚果炒货", "B 店运费", "尺码不合适", ids["number"], "13912345678", "文三路 100 号")

    before = _store_rows(app, b)
    walked, problems = set(), []
    for method, endpoint, rule, credentials in _walked_routes(app):
        url = _url(rule, b.slug, ids)
        denials = len(_denials(app, b.store_id))
        if credentials == "staff_session":
            response = staff.open(url, method=method, data={"csrf_token": csrf} if method != "GET" else None)
        else:
            response = api.open(
                url,
                method=method,
                headers=merchant if credentials == "merchant_token" else shopper,
                json={} if method != "GET" else None,
            )
        walked.add((method, endpoint))
        body = response.get_data(as_text=True)
        expected = 401 if credentials == "shopper_token" else 403  # A's shopper is nobody in B; A's staff is refused
        if response.status_code != expected:
            problems.append(f"{method} {url} ({credentials}) answered {response.status_code}, not {expected}")
        leaked = [s for s in secrets if s in body]
        if leaked:
            problems.append(f"{method} {url} ({credentials}) showed B's {leaked}")
        if response.status_code in (401, 403):  # A's staff by their merchant id, A's shopper as nobody of B's
            logged = _denials(app, b.store_id)[denials:]
            actor = None if credentials == "shopper_token" else a.merchant_id
            if (url, actor) not in logged:
                problems.append(
                    f"{method} {url} ({credentials}): {response.status_code} not in the audit log ({logged})"
                )
    assert not problems, "\n".join(problems)
    assert shopper_secret not in _audit_text(app)  # the refused token itself is never written down
    assert MUST_WALK <= walked, sorted(MUST_WALK - walked)
    assert _store_rows(app, b) == before

    # the ids used are B's real rows: B's own owner reaches them
    owner = bearer(merchant_token(api, b))
    for path in (
        f"orders/{ids['order_id']}",
        f"aftersales/{ids['aftersale_id']}",
        f"products/{ids['product_id']}",
        "orders.csv",
    ):
        response = api.get(f"{b.prefix}/api/console/{path}", headers=owner)
        assert response.status_code == 200, path
    assert ids["number"] in api.get(f"{b.prefix}/api/console/orders.csv", headers=owner).get_data(as_text=True)
