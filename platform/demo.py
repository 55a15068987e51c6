"""Demo data: a platform admin, a merchant with an approved, open store full of products
(three categories, a dozen products with generated photos, specs and stock), and a shopper.

Idempotent: running it again changes nothing that is there already. ``mallow demo`` then runs
:func:`mallow.demo_showcase.seed_showcase`: the bundled plugins enabled and filled, and the
store's designed home and landing pages.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont
from werkzeug.datastructures import FileStorage, MultiDict

from mallow.accounts import customers
from mallow.accounts.models import Merchant, PlatformAdmin
from mallow.accounts.passwords import hash_password
from mallow.catalog import categories, products
from mallow.catalog.models import Product, ProductCategory
from mallow.catalog.specs import combinations
from mallow.db import db
from mallow.media import library
from mallow.merchants.signup import signup_merchant
from mallow.money import yuan_to_fen
from mallow.plugin_host.marketplace import approve_installed
from mallow.qualifications import service
from mallow.qualifications.matrix import seed_defaults
from mallow.tenants.context import store_context
from mallow.tenants.models import Store

PASSWORD = "mallow-demo-2026"
ADMIN_EMAIL = "admin@mallow.demo"
MERCHANT_EMAIL = "merchant@mallow.demo"
SLUG = "demo"
SHOPPER_LOGIN = "13800000000"
BUNDLED_PLUGINS = ("groupbuy", "flashsale", "distribution")


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
        merchant, store = signup_merchant(
            {
                "email": MERCHANT_EMAIL,
                "password": PASSWORD,
                "name": "林掌柜",
                "store_name": "临安山核桃小铺",
                "slug": SLUG,
                "main_category": "farm_produce",
            }
        )
    merchant = db.session.get(Merchant, store.owner_id)
    if store.status == "pending":
        form = MultiDict(
            {
                "application_id": "demo-application-1",
                "subject_type": "enterprise",
                "uscc": "91350100M000100Y43",
                "legal_name": "临安山核桃小铺有限公司",
                "legal_representative": "林小满",
                "legal_rep_id_number": "11010519491231002X",
                "registered_address": "浙江省杭州市临安区锦城街道 1 号",
                "licence_valid_until": "",
                "contact_name": "林小满",
                "contact_phone": "13800000001",
            }
        )
        qualification, _ = service.submit(store, merchant, form, {"licence_image": licence_png()})
        if qualification.status == "submitted":
            service.approve(qualification, admin, "演示数据")
    with store_context(store.id):
        if customers.authenticate(SHOPPER_LOGIN, PASSWORD) is None:
            customers.register(
                {"login": SHOPPER_LOGIN, "password": PASSWORD, "nickname": "小核桃", "privacy_consent": True}
            )
            db.session.commit()
        seed_catalogue()
    db.session.commit()  # end the read begun before the store's work (SQLite: a stale read cannot write)
    # the bundled plugins are reviewed like any other: the demo admin approves their versions
    approved = approve_installed(list(BUNDLED_PLUGINS), admin, "演示数据：平台自带插件")
    return {
        "admin_email": ADMIN_EMAIL,
        "merchant_email": MERCHANT_EMAIL,
        "password": PASSWORD,
        "slug": SLUG,
        "shopper_login": SHOPPER_LOGIN,
        "plugins_approved": [r.name for r in approved],
    }


# -- the demo store's catalogue ------------------------------------------------------------------
# (category, title, subtitle, label on the photo, colour, specs, [(price yuan, stock), …] per
#  combination, sales). Prices are yuan text, read by the one exact helper.
DEMO_PRODUCTS = [
    (
        "坚果炒货",
        "临安山核桃仁",
        "手工剥壳，颗粒饱满",
        "HICKORY",
        "#8d5b2f",
        [("规格", ["120g罐装", "250g袋装", "500g礼盒"])],
        [("39.90", 320), ("69.90", 180), ("128.00", 36)],
        1260,
    ),
    (
        "坚果炒货",
        "纸皮山核桃",
        "壳薄易剥，奶油焦香",
        "PAPER SHELL",
        "#a8733f",
        [("规格", ["500g", "1000g"]), ("口味", ["奶油", "椒盐"])],
        [("45.00", 200), ("45.00", 150), ("86.00", 90), ("86.00", 12)],
        860,
    ),
    (
        "坚果炒货",
        "手剥山核桃",
        "临安昌化山区原产",
        "HAND PEELED",
        "#6f4520",
        [("规格", ["250g", "500g"])],
        [("32.00", 260), ("59.00", 0)],
        540,
    ),
    (
        "坚果炒货",
        "碧根果",
        "长寿果，个大壳薄",
        "PECAN",
        "#b0793b",
        [("规格", ["200g", "400g"])],
        [("25.80", 400), ("46.80", 220)],
        980,
    ),
    ("坚果炒货", "枫桥香榧", "会稽山香榧，椒盐口味", "TORREYA", "#7a5a32", [], [("168.00", 25)], 150),
    (
        "茶叶",
        "西湖龙井茶",
        "狮峰山茶园，手工炒制",
        "LONGJING",
        "#5d8a3a",
        [("等级", ["明前特级", "雨前一级"]), ("规格", ["50g", "100g"])],
        [("188.00", 60), ("358.00", 30), ("98.00", 120), ("186.00", 80)],
        420,
    ),
    (
        "茶叶",
        "安吉白茶",
        "氨基酸含量高，鲜爽回甘",
        "ANJI WHITE",
        "#86a95a",
        [("规格", ["100g", "250g"])],
        [("138.00", 90), ("318.00", 40)],
        310,
    ),
    ("茶叶", "径山茶", "径山寺茶宴之茶，香清味甘", "JINGSHAN", "#4f7a3a", [], [("88.00", 150)], 120),
    ("茶叶", "九曲红梅", "杭州红茶，汤色红艳", "RED TEA", "#8e3b2c", [], [("76.00", 8)], 95),
    (
        "山货特产",
        "天目山笋干",
        "高山雷笋，日晒烘干",
        "BAMBOO SHOOT",
        "#9c8a4a",
        [("规格", ["250g", "500g"])],
        [("36.00", 300), ("68.00", 160)],
        650,
    ),
    (
        "山货特产",
        "临安小香薯",
        "沙地种植，软糯香甜",
        "SWEET POTATO",
        "#b4553a",
        [("规格", ["2.5kg", "5kg"])],
        [("29.90", 500), ("49.90", 260)],
        1520,
    ),
    (
        "山货特产",
        "天目山土蜂蜜",
        "百花蜜，自然成熟",
        "HONEY",
        "#d39b2a",
        [("规格", ["500g瓶装"])],
        [("78.00", 45)],
        230,
    ),
]
#: products whose SKUs show a picture per value of the first spec (规格图): the product's photos in turn
PICTURE_PER_FIRST_SPEC = ("纸皮山核桃", "西湖龙井茶")
DEMO_DESCRIPTION = (
    "<h3>产地与发货</h3><p>{subtitle}。产自浙江杭州临安及周边山区，当季采收，顺丰发货。</p>"
    "<ul><li>保存：阴凉干燥处，开封后请密封</li><li>售后：收货 48 小时内如有质量问题可申请退款</li></ul>"
)


def product_photo(label: str, colour: str, variant: int = 0) -> FileStorage:
    """A generated 800×800 JPEG "photo": a warm backdrop, a few round shapes and a label."""
    image = Image.new("RGB", (800, 800), "#f6efe4" if variant == 0 else "#efe6d8")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 560, 800, 800], fill="#e9dcc8")
    spots = (
        [(400, 360, 190), (220, 520, 110), (590, 520, 120)]
        if variant == 0
        else [(260, 300, 130), (540, 300, 130), (400, 520, 150)]
    )
    for x, y, r in spots:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline="#3b2a1a", width=6)
        draw.ellipse([x - r // 3, y - r // 2, x + r // 6, y - r // 4], fill="#ffffff")
    try:
        font = ImageFont.load_default(size=56)
    except TypeError:  # Pillow < 10.1: a small bitmap font
        font = ImageFont.load_default()
    draw.text((40, 680), label, fill="#3b2a1a", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    buffer.seek(0)
    return FileStorage(buffer, filename=f"{label.lower().replace(' ', '-')}.jpg", content_type="image/jpeg")


def seed_catalogue() -> int:
    """Add the demo categories and products that are missing (by name); returns how many
    products were added. Runs inside the demo store's ``store_context``."""
    import sqlalchemy as sa

    ids = {}
    for sort, name in enumerate(dict.fromkeys(row[0] for row in DEMO_PRODUCTS)):
        found = db.session.execute(
            sa.select(ProductCategory).where(ProductCategory.name == name, ProductCategory.parent_id.is_(None))
        ).scalar_one_or_none()
        ids[name] = found.id if found is not None else categories.create({"name": name, "sort": sort}).id
    existing = set(db.session.execute(sa.select(Product.title)).scalars())
    added = 0
    for position, (category, title, subtitle, label, colour, axes, skus, sales) in enumerate(DEMO_PRODUCTS):
        if title in existing:
            continue
        specs = [{"name": name, "values": values} for name, values in axes]
        combos = combinations(specs)
        entries = [
            {
                "spec_values": values,
                "price": yuan_to_fen(price),
                "stock": stock,
                "weight_g": 500,
                "code": f"DEMO-{position + 1:02d}-{index + 1}",
            }
            for index, (values, (price, stock)) in enumerate(zip(combos, skus, strict=False))
        ]
        product = products.create(
            {
                "title": title,
                "subtitle": subtitle,
                "category_id": ids[category],
                "specs": specs,
                "skus": entries,
                "description_html": DEMO_DESCRIPTION.format(title=title, subtitle=subtitle),
                "status": "on_shelf",
                "sort": len(DEMO_PRODUCTS) - position,
            },
            uploads=[product_photo(label, colour, 0), product_photo(label, colour, 1)],
        )
        product.sales = sales
        db.session.commit()
        if title in PICTURE_PER_FIRST_SPEC:
            _picture_per_first_spec(product)
        added += 1
    return added


def _picture_per_first_spec(product) -> None:
    """Each SKU shows the product photo of its first spec value's place (500g: the first photo,
    1000g: the second …), so choosing that value in the option sheet changes the picture."""
    photos = sorted(product.images, key=lambda image: image.sort)
    ids = library.ids_by_path(image.path for image in photos)
    axis = product.specs[0]
    entries = [
        {
            "spec_values": sku.spec_values,
            "image": ids.get(photos[axis["values"].index(sku.spec_values[axis["name"]]) % len(photos)].path),
        }
        for sku in product.skus
        if sku.active
    ]
    products.update(product, {"skus": entries})
