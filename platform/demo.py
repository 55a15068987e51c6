"""Demo data: a platform admin, a merchant with an approved, open store, and a shopper.

Idempotent: running it again changes nothing that is there already.
"""
from __future__ import annotations

import io

from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage, MultiDict

from mallow.accounts import customers
from mallow.accounts.models import Merchant, PlatformAdmin
from mallow.accounts.passwords import hash_password
from mallow.db import db
from mallow.merchants.signup import signup_merchant
from mallow.qualifications import service
from mallow.qualifications.matrix import seed_defaults
from mallow.tenants.context import store_context
from mallow.tenants.models import Store

PASSWORD = "mallow-demo-2026"
ADMIN_EMAIL = "admin@mallow.demo"
MERCHANT_EMAIL = "merchant@mallow.demo"
SLUG = "demo"
SHOPPER_LOGIN = "13800000000"


def licence_png(text: str = "营业执照 DEMO") -> FileStorage:
    image = Image.new("RGB", (600, 400), "#f4efe6")
    draw = ImageDraw.Draw(image)
    draw.rectangle([10, 10, 590, 390], outline="#b22", width=6)
    draw.text((40, 180), text.encode("ascii", "replace").decode(), fill="#222")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    buffer.seek(0)
    return FileStorage(buffer, filename="licence.png", content_type="image/png")


def seed() -> dict:
    seed_defaults()
    admin = db.session.execute(db.select(PlatformAdmin).filter_by(email=ADMIN_EMAIL)).scalar_one_or_none()
    if admin is None:
        admin = PlatformAdmin(email=ADMIN_EMAIL, name="演示管理员", password_hash=hash_password(PASSWORD))
        db.session.add(admin)
        db.session.commit()
    store = db.session.execute(db.select(Store).filter_by(slug=SLUG)).scalar_one_or_none()
    if store is None:
        merchant, store = signup_merchant({"email": MERCHANT_EMAIL, "password": PASSWORD, "name": "林掌柜",
                                           "store_name": "临安山核桃小铺", "slug": SLUG, "main_category": "farm_produce"})
    merchant = db.session.get(Merchant, store.owner_id)
    if store.status == "pending":
        form = MultiDict({"application_id": "demo-application-1", "subject_type": "enterprise",
                          "uscc": "91350100M000100Y43", "legal_name": "临安山核桃小铺有限公司",
                          "legal_representative": "林小满", "legal_rep_id_number": "11010519491231002X",
                          "registered_address": "浙江省杭州市临安区锦城街道 1 号", "licence_valid_until": "",
                          "contact_name": "林小满", "contact_phone": "13800000001"})
        qualification, _ = service.submit(store, merchant, form, {"licence_image": licence_png()})
        if qualification.status == "submitted":
            service.approve(qualification, admin, "演示数据")
    with store_context(store.id):
        if customers.authenticate(SHOPPER_LOGIN, PASSWORD) is None:
            customers.register({"login": SHOPPER_LOGIN, "password": PASSWORD, "nickname": "小核桃"})
            db.session.commit()
    return {"admin_email": ADMIN_EMAIL, "merchant_email": MERCHANT_EMAIL, "password": PASSWORD, "slug": SLUG,
            "shopper_login": SHOPPER_LOGIN}
