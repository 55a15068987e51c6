"""The demo store's showcase: the bundled plugins at work and a designed home page.

After :func:`mallow.demo.seed` has approved the bundled plugins, :func:`seed_showcase` loads the
newly approved releases into the running app (``load_approved`` skips what is loaded already, so
routes, blocks and jobs are registered once), enables group buy, flash sale and distribution for
the demo store through the owner's own path (their tables are migrated into the store), and then:

* asks each enabled plugin to show itself through the ``mallow_seed_demo`` hook (the group buy
  seeds a 3-person campaign, the flash sale a live sale, distribution makes the demo shopper a
  distributor); what each returns is the pages ``mallow demo`` prints. No plugin module is
  imported here;
* adds three generated banners to the store's media library, and publishes a home page (search
  bar, carousel, notice bar, flash-sale countdown, group-buy list, best sellers, store info) and a
  landing page (微页面) at ``/p/new-year``.

Idempotent: what is there already (found by title, slug or file name) is left as it is. Like
``create_app``, it must run before the app serves its first request (Flask takes no new routes
after that): ``mallow demo`` never serves. A bundled plugin that is not approved or needs a newer
Mallow is not loaded, and then the store gets none of this.
"""

from __future__ import annotations

import io
from datetime import datetime, UTC

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont
from werkzeug.datastructures import FileStorage

from mallow.accounts.customers import normalise_login
from mallow.accounts.models import Customer, Merchant
from mallow.builder import service
from mallow.builder.models import Page
from mallow.catalog.models import Product
from mallow.db import db
from mallow.demo import BUNDLED_PLUGINS, SHOPPER_LOGIN, SLUG
from mallow.media import library
from mallow.media.models import MediaAsset
from mallow.plugin_host import storeplugins
from mallow.plugin_host.loader import load_approved
from mallow.plugins.manager import hooks
from mallow.security import crypto
from mallow.tenants.context import store_context
from mallow.tenants.models import Store
from mallow.tenants.views import store_view

LANDING_SLUG = "new-year"
LANDING_TITLE = "新春年货节"
# (file name, label on the picture, colour, link inside the store, alt text)
BANNERS = [
    ("demo-banner-new-year.jpg", "NEW YEAR", "#c0392b", f"/p/{LANDING_SLUG}", "新春年货节"),
    ("demo-banner-group-buy.jpg", "GROUP BUY", "#8d5b2f", "/x/groupbuy/", "三人拼团，山核桃仁更实惠"),
    ("demo-banner-flash-sale.jpg", "FLASH SALE", "#d46b08", "/x/flashsale/", "碧根果、小香薯限时秒杀"),
]
NEW_YEAR_GIFTS = ("枫桥香榧", "西湖龙井茶", "天目山土蜂蜜", "临安山核桃仁")


def seed_showcase(app) -> dict:
    """Enable and fill the bundled plugins in the demo store and publish its pages; returns the
    store paths to show (``showcase``), or the bundled plugins that could not be loaded."""
    loaded = load_approved(app)  # the releases approved since the app started; the others are skipped
    missing = [name for name in BUNDLED_PLUGINS if name not in loaded]
    if missing:
        return {"plugins_missing": missing}
    store_id, owner_id = db.session.execute(sa.select(Store.id, Store.owner_id).filter_by(slug=SLUG)).one()
    db.session.commit()  # end this session's read: the store's work runs in its own context
    with store_context(store_id) as store:
        enable_plugins(store, db.session.get(Merchant, owner_id))
    with store_context(store_id) as store:  # a fresh context: the store's enabled plugins are read again
        owner = db.session.get(Merchant, owner_id)
        pages = seed_plugins(store)
        banners = seed_banners()
        publish_once(home_page(), home_document(banners), owner)
        publish_once(landing_page(), landing_document(banners), owner)
    pages["landing page"] = f"/p/{LANDING_SLUG}"
    return {
        "plugins_enabled": list(BUNDLED_PLUGINS),
        "showcase": {label: f"/s/{SLUG}{path}" for label, path in pages.items()},
    }


def enable_plugins(store, owner) -> None:
    """Enable each bundled plugin not enabled yet, as the owner would in the console."""
    for name in BUNDLED_PLUGINS:
        if not storeplugins.offer(store.id, name).enabled:
            storeplugins.enable(store, name, owner, None)


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _product(title: str):
    return db.session.execute(sa.select(Product).where(Product.title == title)).scalar_one()


def seed_plugins(store) -> dict[str, str]:
    """Each enabled plugin seeds what shows it at work (``mallow_seed_demo``); returns the pages
    they name, ``{label: path inside the store}``."""
    shopper = db.session.execute(
        sa.select(Customer).filter_by(login_digest=crypto.digest(normalise_login(SHOPPER_LOGIN)))
    ).scalar_one()
    pages: dict[str, str] = {}
    for result in hooks().mallow_seed_demo(store=store_view(store), shopper=shopper, now=_now()):
        pages.update(result)
    db.session.commit()
    return pages


def banner_photo(filename: str, label: str, colour: str) -> FileStorage:
    """A generated 1500×750 (2:1) JPEG banner: a coloured field, a few round shapes, a label."""
    image = Image.new("RGB", (1500, 750), colour)
    draw = ImageDraw.Draw(image)
    for x, y, r in ((1150, 360, 260), (1380, 620, 140), (930, 640, 90)):
        draw.ellipse([x - r, y - r, x + r, y + r], fill="#f6efe4", outline="#3b2a1a", width=8)
    try:
        font = ImageFont.load_default(size=120)
    except TypeError:  # Pillow < 10.1: a small bitmap font
        font = ImageFont.load_default()
    draw.text((90, 300), label, fill="#ffffff", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    buffer.seek(0)
    return FileStorage(buffer, filename=filename, content_type="image/jpeg")


def seed_banners() -> dict[str, int]:
    """``{file name: media id}`` of the banners, added to the library where missing."""
    ids = {}
    for filename, label, colour, _link, _alt in BANNERS:
        found = db.session.execute(sa.select(MediaAsset.id).where(MediaAsset.name == filename)).scalars().first()
        ids[filename] = found if found is not None else library.upload(banner_photo(filename, label, colour)).id
    return ids


# -- pages ----------------------------------------------------------------------------------------


def home_page():
    return service.get_page("home")


def landing_page():
    query = sa.select(Page).where(Page.kind == "landing", Page.slug == LANDING_SLUG)
    found = db.session.execute(query).scalar_one_or_none()
    return found or service.create_landing({"title": LANDING_TITLE, "slug": LANDING_SLUG})


def publish_once(page, document: dict, owner) -> None:
    """Save ``document`` as the draft and publish it, unless the page was ever published."""
    if service.versions(page):
        return
    service.save_draft(page, document)
    service.publish(page, actor=owner)


def _document(sections: list[tuple[str, dict]]) -> dict:
    return {"sections": dict(sections), "order": [key for key, _section in sections]}


def _carousel(banners: dict[str, int], chosen=None) -> dict:
    rows = [row for row in BANNERS if chosen is None or row[0] in chosen]
    slides = {
        f"s{index}": {"type": "slide", "settings": {"image": banners[filename], "link": link, "alt": alt}}
        for index, (filename, _label, _colour, link, alt) in enumerate(rows, 1)
    }
    return {"type": "carousel", "settings": {"aspect": "2:1"}, "blocks": slides, "block_order": list(slides)}


def home_document(banners: dict[str, int]) -> dict:
    return _document(
        [
            ("search", {"type": "search_bar", "settings": {"placeholder": "搜索山核桃、龙井、笋干"}}),
            ("hero", _carousel(banners)),
            (
                "notice",
                {
                    "type": "notice_bar",
                    "settings": {"text": "新春年货节进行中：全场包邮，顺丰发货", "link": f"/p/{LANDING_SLUG}"},
                },
            ),
            ("flash", {"type": "flashsale_countdown", "settings": {"sale": 0}}),
            ("groupbuy", {"type": "groupbuy_list", "settings": {"title": "三人拼团", "count": 4}}),
            ("best", {"type": "product_grid", "settings": {"title": "热销好物", "source": "best_sellers", "count": 6}}),
            (
                "info",
                {
                    "type": "store_info",
                    "settings": {"intro": "临安山区的山核桃、茶叶和山货，当季采收，产地直发。", "show_licence": True},
                },
            ),
        ]
    )


def landing_document(banners: dict[str, int]) -> dict:
    gifts = [_product(title).id for title in NEW_YEAR_GIFTS]
    return _document(
        [
            ("hero", _carousel(banners, chosen={"demo-banner-new-year.jpg"})),
            (
                "intro",
                {
                    "type": "rich_text",
                    "settings": {
                        "align": "center",
                        "html": (
                            "<h2>新春年货节</h2><p>山核桃、香榧、龙井和土蜂蜜，装进一份临安山里的年货。"
                            "全场包邮，节前顺丰发货。</p>"
                        ),
                    },
                },
            ),
            (
                "gifts",
                {
                    "type": "product_grid",
                    "settings": {"title": "年货礼盒", "source": "picked", "products": gifts, "count": len(gifts)},
                },
            ),
            ("groupbuy", {"type": "groupbuy_list", "settings": {"title": "约上家人一起拼", "count": 2}}),
            (
                "invite",
                {
                    "type": "distribution_entry",
                    "settings": {
                        "title": "分享赚佣金",
                        "text": "申请成为分销员，分享年货给亲友，成交后按实付金额得佣金。",
                    },
                },
            ),
        ]
    )
