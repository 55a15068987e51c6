"""Test helpers for Mallow and for plugin authors (also loaded as a pytest plugin).

``make_store(app)`` creates a merchant and a store through the real sign-up and, unless told
otherwise, approves it through the real review, so a test (or a plugin's test) gets a
throwaway store in its own schema in milliseconds::

    def test_my_plugin(app):
        shop = make_store(app)
        client = app.test_client()
        login_merchant(client, shop)
"""
from __future__ import annotations

import io
import itertools
import os
import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict

PASSWORD = "test-pass-123"
VALID_USCC = "91350100M000100Y43"
VALID_ID_NUMBER = "11010519491231002X"
_counter = itertools.count(1)


@dataclass
class Shop:
    store_id: int
    slug: str
    merchant_id: int
    email: str
    password: str = PASSWORD

    @property
    def prefix(self) -> str:
        return f"/s/{self.slug}"


@dataclass
class MerchantClient:
    """A store's merchant driving the console API (``/s/<slug>/api/console``) with a bearer
    token; ``client`` is a test client (signed in too when made with ``signed_in=True``).
    Test helpers add their own calls by subclassing it."""

    shop: Shop
    client: object
    token: str

    @classmethod
    def new_store(cls, app, *, signed_in: bool = False, **store):
        """A new store (``make_store`` keywords) and its merchant."""
        shop = make_store(app, **store)
        client = app.test_client()
        if signed_in:
            login_merchant(client, shop)
        return cls(shop, client, merchant_token(app.test_client(), shop))

    @property
    def api(self) -> str:
        return f"{self.shop.prefix}/api/console"

    @property
    def headers(self) -> dict:
        return bearer(self.token)


def unique_slug(prefix: str = "shop") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def png_bytes(size=(64, 48), color="#c33") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def image_upload(data: bytes | None = None, filename: str = "licence.png") -> FileStorage:
    return FileStorage(io.BytesIO(data if data is not None else png_bytes()), filename=filename, content_type="image/png")


def qualification_form(**overrides) -> MultiDict:
    form = {"application_id": uuid.uuid4().hex, "subject_type": "enterprise", "uscc": VALID_USCC,
            "legal_name": "测试商贸有限公司", "legal_representative": "张三", "legal_rep_id_number": VALID_ID_NUMBER,
            "registered_address": "浙江省杭州市西湖区文三路 1 号", "licence_valid_until": "",
            "contact_name": "张三", "contact_phone": "13800138000", "contact_email": "ops@example.com"}
    form.update(overrides)
    return MultiDict({k: v for k, v in form.items() if v is not None})


def make_admin(app, email: str | None = None):
    from mallow.accounts.models import PlatformAdmin
    from mallow.accounts.passwords import hash_password
    from mallow.db import db

    with app.app_context():
        email = email or f"admin-{uuid.uuid4().hex[:8]}@example.com"
        admin = PlatformAdmin(email=email, name="Admin", password_hash=hash_password(PASSWORD))
        db.session.add(admin)
        db.session.commit()
        return admin.id, email


def make_store(app, *, approved: bool = True, category: str = "general", slug: str | None = None) -> Shop:
    """Sign a merchant up (real service) and, with ``approved``, approve its qualification."""
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.merchants.signup import signup_merchant
    from mallow.qualifications import service

    slug = slug or unique_slug()
    email = f"{slug}@example.com"
    admin_id = None
    if approved:
        with app.app_context():
            admin_id = db.session.execute(db.select(PlatformAdmin.id).limit(1)).scalar()
        admin_id = admin_id or make_admin(app)[0]
    with app.test_request_context():
        merchant, store = signup_merchant({"email": email, "password": PASSWORD, "name": "店主", "store_name": f"店铺 {slug}",
                                           "slug": slug, "main_category": category})
        shop = Shop(store.id, store.slug, merchant.id, email)
        if approved:
            qualification, _ = service.submit(store, merchant, qualification_form(), {"licence_image": image_upload()})
            service.approve(qualification, db.session.get(PlatformAdmin, admin_id))
        db.session.remove()
    return shop


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    found = CSRF_RE.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def post_form(client, path: str, data: dict, form_path: str | None = None, **kwargs):
    """POST a form the way a browser does: with the CSRF token of the page that shows it."""
    data = dict(data)
    data["csrf_token"] = csrf_token(client, form_path or path)
    return client.post(path, data=data, **kwargs)


def login_merchant(client, shop: Shop):
    response = post_form(client, "/merchant/login", {"email": shop.email, "password": shop.password})
    assert response.status_code in (302, 303), response.status_code
    return response


def login_admin(client, email: str):
    response = post_form(client, "/admin/login", {"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return response


def register_shopper(client, shop: Shop, login: str | None = None):
    login = login or f"1{next(_counter) % 10**10 + 3 * 10**9:010d}"
    response = post_form(client, f"{shop.prefix}/register", {"login": login, "password": PASSWORD})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return login


def merchant_token(client, shop: Shop, store: str | None = None) -> str:
    body = {"email": shop.email, "password": shop.password}
    if store:
        body["store"] = store
    response = client.post("/api/tokens", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- Test servers and apps -------------------------------------------------------------------
# PostgreSQL and Redis are probed once, when this module is imported by a test run.

POSTGRES_URL = os.environ.get("MALLOW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MALLOW_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MISSING_SERVERS: dict[str, str] = {}


def _postgres_ok() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception as exc:
        MISSING_SERVERS["PostgreSQL"] = f"{POSTGRES_URL}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        return False


def _redis_ok() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        return True
    except Exception as exc:
        MISSING_SERVERS["Redis"] = f"{REDIS_URL}: {exc}"
        return False


HAVE_POSTGRES = _postgres_ok()
HAVE_REDIS = _redis_ok()


_databases = itertools.count(0)


def fresh_postgres_database() -> str:
    """A new, empty database for one app (several apps in one run each get their own)."""
    number = next(_databases)
    name = f"mallow_test_{os.getpid()}" + (f"_{number}" if number else "")
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


TEST_CONFIG = {
    "TESTING": True,
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # real hashing, cheap parameters
    "LOGIN_RATE_LIMIT_IP": "100000 per minute",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "REDIS_URL": "",
    "SERVER_NAME": None,
    # tests pay through the sandbox cashier (off by default in production: mallow.config)
    "MALLOW_SANDBOX_PAYMENTS": True,
}


def build_app(tmp_path_factory, backend: str, **overrides):
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults

    config = dict(TEST_CONFIG, MALLOW_DATA_DIR=str(tmp_path_factory.mktemp(f"data-{backend}")))
    if backend == "postgresql":
        config["DATABASE_URL"] = fresh_postgres_database()
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
    return app




def make_product(app, shop: Shop, *, title: str = "测试商品", price: int = 1000, stock: int = 100,
                 skus: list[dict] | None = None, shipping_template_id: int | None = None) -> list[int]:
    """A product on the shelf in ``shop`` (straight through the models); returns its SKU ids."""
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product = Product(title=title, status="on_shelf", search_text=title.lower(),
                          shipping_template_id=shipping_template_id)
        for spec in skus or [{"spec_key": "", "price": price, "stock": stock}]:
            product.skus.append(Sku(spec_key=spec.get("spec_key", ""), spec_values=spec.get("spec_values", {}),
                                    price=spec.get("price", price), stock=spec.get("stock", stock),
                                    weight_g=spec.get("weight_g", 0)))
        db.session.add(product)
        db.session.commit()
        return [sku.id for sku in product.skus]


def make_shopper(client, shop: Shop, login: str | None = None) -> tuple[str, int]:
    """A shopper of ``shop`` with a token and one address; returns ``(token, address_id)``."""
    login = login or f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(f"{shop.prefix}/api/customers", json={"login": login, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["token"]
    address = client.post(f"{shop.prefix}/api/addresses", headers=bearer(token), json={
        "recipient": "李四", "phone": "13912345678", "province": "浙江省", "city": "杭州市", "district": "西湖区",
        "detail": "文三路 100 号"})
    assert address.status_code == 201, address.get_json()
    return token, address.get_json()["id"]


# --- Plugins ------------------------------------------------------------------------------------

def approve_plugin(app, name: str) -> None:
    """Record the installed release of ``name`` as approved (as a platform admin would)."""
    from mallow.db import db
    from mallow.plugin_host.discovery import installed
    from mallow.plugin_host.models import PluginRelease

    entry_point, manifest = installed()[name]
    with app.app_context():
        row = db.session.execute(db.select(PluginRelease).filter_by(name=name, version=manifest.version)).scalar_one_or_none()
        if row is None:
            db.session.add(PluginRelease(name=name, version=manifest.version, manifest=manifest.as_dict(), status="approved"))
        else:
            row.status = "approved"
        db.session.commit()


def plugin_app(tmp_path_factory, backend: str, plugins: list[str], **overrides):
    """A fresh app on ``backend`` with ``plugins`` approved and loaded (before its first request)."""
    from mallow.plugin_host.loader import load_approved

    app = build_app(tmp_path_factory, backend, **overrides)
    make_admin(app)
    for name in plugins:
        approve_plugin(app, name)
    load_approved(app)
    app.mallow_backend = backend
    return app


def enable_plugin(app, shop: Shop, name: str, settings: dict | None = None):
    """Enable ``name`` in ``shop`` through the platform's own enable path (tables migrated)."""
    from mallow.db import db
    from mallow.plugin_host import loader
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        loader.enable(shop.store_id, name, settings)
        db.session.commit()


def disable_plugin(app, shop: Shop, name: str) -> None:
    from mallow.db import db
    from mallow.plugin_host import loader
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        loader.disable(shop.store_id, name)
        db.session.commit()


def restart_app(app, **overrides):
    """A new app on the same database and data folder as ``app``: what the next start of Mallow
    sees (approved plugins are imported by ``create_app``)."""
    from mallow.app import create_app

    config = dict(TEST_CONFIG, MALLOW_DATA_DIR=app.config["MALLOW_DATA_DIR"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        config["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    config.update(overrides)
    restarted = create_app(config)
    restarted.mallow_backend = getattr(app, "mallow_backend", None)
    return restarted


def dispose_app(app, drop_database: bool = True) -> None:
    """Close an app's connections (and, on PostgreSQL, drop its test database)."""
    from mallow.db import db

    with app.app_context():
        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if drop_database and url.startswith("postgresql"):
        drop_postgres_database(url)


def backend_params():
    """``params`` for a fixture that runs on SQLite and, when its server is up, PostgreSQL."""
    import pytest

    return [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=[pytest.mark.postgres, pytest.mark.skipif(
                not HAVE_POSTGRES, reason="PostgreSQL is not running")])]
