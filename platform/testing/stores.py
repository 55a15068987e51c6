"""Throwaway stores and the people and products in them, made through Mallow's own services.

``make_store(app)`` signs a merchant up through the real sign-up and, unless told otherwise,
approves the store through the real qualification review, so a test gets a store in its own
schema in milliseconds; ``make_admin`` a platform admin; ``make_product`` a product on the shelf.

Mallow's modules are imported inside the helpers, not at the top: importing the kit (conftest
does, before any app exists) loads nothing of the app, and ``create_app`` imports the parts in
its own order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from .images import image_upload

PASSWORD = "test-pass-123"
VALID_USCC = "91350100M000100Y43"
VALID_ID_NUMBER = "11010519491231002X"


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


def unique_slug(prefix: str = "shop") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def qualification_form(**overrides) -> MultiDict:
    form = {
        "application_id": uuid.uuid4().hex,
        "subject_type": "enterprise",
        "uscc": VALID_USCC,
        "legal_name": "测试商贸有限公司",
        "legal_representative": "张三",
        "legal_rep_id_number": VALID_ID_NUMBER,
        "registered_address": "浙江省杭州市西湖区文三路 1 号",
        "licence_valid_until": "",
        "contact_name": "张三",
        "contact_phone": "13800138000",
        "contact_email": "ops@example.com",
    }
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
        merchant, store = signup_merchant(
            {
                "email": email,
                "password": PASSWORD,
                "name": "店主",
                "store_name": f"店铺 {slug}",
                "slug": slug,
                "main_category": category,
            }
        )
        shop = Shop(store.id, store.slug, merchant.id, email)
        if approved:
            qualification, _ = service.submit(store, merchant, qualification_form(), {"licence_image": image_upload()})
            service.approve(qualification, db.session.get(PlatformAdmin, admin_id))
        db.session.remove()
    return shop


def make_product(
    app,
    shop: Shop,
    *,
    title: str = "测试商品",
    price: int = 1000,
    stock: int = 100,
    skus: list[dict] | None = None,
    shipping_template_id: int | None = None,
) -> list[int]:
    """A product on the shelf in ``shop`` (straight through the models); returns its SKU ids."""
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product = Product(
            title=title, status="on_shelf", search_text=title.lower(), shipping_template_id=shipping_template_id
        )
        for spec in skus or [{"spec_key": "", "price": price, "stock": stock}]:
            product.skus.append(
                Sku(
                    spec_key=spec.get("spec_key", ""),
                    spec_values=spec.get("spec_values", {}),
                    price=spec.get("price", price),
                    stock=spec.get("stock", stock),
                    weight_g=spec.get("weight_g", 0),
                )
            )
        db.session.add(product)
        db.session.commit()
        return [sku.id for sku in product.skus]
