"""The cold home page renders byte for byte as it did before the render was made cheaper: a page
of every built-in block that shows store data (carousel, notice, search, best sellers,
hand-picked products, coupons, rich text, store info with the licence) is compared with a
stored rendering (``golden/cold_home.html``), made by the render before its data plan, kept
documents, kept licences and marked addresses. Only what differs from store to store is
normalised: the store's slug and the random file names of images. Both backends give the same
page."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from mallow.testing import backend_params, build_app, dispose_app, png_bytes

from .conftest import new_builder

GOLDEN = Path(__file__).parent / "golden" / "cold_home.html"
COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


@pytest.fixture(scope="module", params=backend_params())
def cold_app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param, **COLD)
    yield app
    dispose_app(app)


def normalised(html: str, slug: str) -> str:
    html = html.replace(slug, "SHOP")
    html = re.sub(r"[0-9a-f]{32}", "NAME", html)
    html = re.sub(r"\?v=[0-9a-f]{8,}\b", "?v=V", html)  # a static file's version: its own content's hash
    return re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1CSRF"', html)


def _page(builder) -> str:
    products = [builder.product(f"临安山核桃 {i}", price=1000 + i, subtitle=f"第 {i} 批") for i in range(8)]
    for product in products[:5]:
        uploaded = builder.client.post(
            f"{builder.api}/products/{product['id']}/images",
            headers=builder.headers,
            data={"image": [(io.BytesIO(png_bytes((640, 480))), "a.png")]},
            content_type="multipart/form-data",
        )
        assert uploaded.status_code in (200, 201), uploaded.get_json()
    hidden = builder.product("下架的笋干", status="off_shelf")
    slides = [builder.upload(png_bytes((1200, 600))).get_json()["id"] for _ in range(2)]
    sections = {
        "hero": {
            "type": "carousel",
            "settings": {"aspect": "2:1"},
            "blocks": {
                f"s{i}": {"type": "slide", "settings": {"image": m, "link": "/search", "alt": f"第 {i} 张"}}
                for i, m in enumerate(slides)
            },
            "block_order": [f"s{i}" for i in range(len(slides))],
        },
        "notice": {"type": "notice_bar", "settings": {"text": "满 99 包邮 <b>正品</b>", "link": "/search"}},
        "search": {"type": "search_bar", "settings": {}},
        "hot": {"type": "product_grid", "settings": {"title": "热销榜", "source": "best_sellers", "count": 6}},
        "new": {"type": "product_grid", "settings": {"title": "新品", "source": "newest", "count": 3, "columns": 3}},
        "picked": {
            "type": "product_grid",
            "settings": {
                "title": "店长推荐",
                "source": "picked",
                "products": [products[6]["id"], products[1]["id"], hidden["id"]],
                "show_price": False,
            },
        },
        "one": {"type": "single_product", "settings": {"product": products[2]["id"]}},
        "coupons": {
            "type": "marketing_strip",
            "settings": {"title": "领券"},
            "blocks": {
                "c1": {"type": "offer", "settings": {"amount": "¥10", "label": "满 99 可用", "link": "/search"}},
                "c2": {"type": "offer", "settings": {"amount": "¥30", "label": "满 299 可用"}},
            },
            "block_order": ["c1", "c2"],
        },
        "story": {
            "type": "rich_text",
            "settings": {"html": '<p>山里<strong>现采</strong><span style="x">好</span></p>'},
        },
        "info": {"type": "store_info", "settings": {"intro": "杭州临安的山货小店", "show_licence": True}},
    }
    builder.save_and_publish({"sections": sections, "order": list(sections)})
    builder.home_html()  # the store met by this process
    return normalised(builder.home_html(), builder.shop.slug)


def test_the_cold_home_renders_as_before(cold_app):
    html = _page(new_builder(cold_app))
    if os.environ.get("MALLOW_WRITE_GOLDEN"):  # only to make the stored rendering
        GOLDEN.write_text(html, encoding="utf-8")
    assert html == GOLDEN.read_text(encoding="utf-8")
