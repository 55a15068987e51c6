#!/usr/bin/env python
"""Page-builder render bench: the published home page per second with the render cache cold and
warm, each beside a bare Flask + Jinja2 page measured in the same run (ratio), median of
alternating rounds.

The home page is a realistic one (carousel with two library images, notice bar, search bar,
a best-seller product grid of 6, a hand-picked grid of 4, a coupon strip, store info) in the
default theme. "Cold" swaps in a cache that keeps nothing, so every request loads the version,
its products and images and renders every block in the sandbox, and no kept page
(:mod:`mallow.edge.pages`) answers first; "warm" is the app as configured (kept pages, then the
render cache).
The bare baselines carry their own code (no Mallow): a Jinja2 page of 20 products (A-page) and
the same page after one SQL query (A-dbpage), as in shared/briefs/performance.md. Requests go
through each app's WSGI interface in-process (Flask test client), one at a time, so the figures
compare code paths, not a web server. Loops are bounded in count and time; nothing leaves the
process (PostgreSQL, when chosen, on 127.0.0.1).

    .venv/bin/python bench/render.py                       # SQLite (embedded default)
    .venv/bin/python bench/render.py --backend postgresql  # scratch database, dropped after
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import io
import statistics
import sys

import sqlalchemy as sa
from common import BARE_PAGE, BARE_PRODUCTS, drop_scratch, mallow_config, rate
from flask import Flask


def bare_app(database_url: str) -> Flask:
    app = Flask("bare")
    engine = sa.create_engine(database_url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bare_pages")
        c.exec_driver_sql("CREATE TABLE bare_pages (id INTEGER PRIMARY KEY, title VARCHAR(60))")
        c.exec_driver_sql("INSERT INTO bare_pages VALUES (1, '店铺')")
    products = BARE_PRODUCTS
    template = app.jinja_env.from_string(BARE_PAGE)  # compiled once, as Flask's file templates are

    @app.get("/page")
    def page():
        return template.render(title="店铺", products=products)

    @app.get("/dbpage")
    def dbpage():
        with engine.connect() as c:
            title = c.execute(sa.text("SELECT title FROM bare_pages WHERE id = 1")).scalar_one()
        return template.render(title=title, products=products)

    return app


def home_document(product_ids: list[int], media_ids: list[int]) -> dict:
    sections = {
        "hero": {
            "type": "carousel",
            "settings": {"aspect": "2:1"},
            "blocks": {
                f"s{i}": {"type": "slide", "settings": {"image": m, "link": "/search"}} for i, m in enumerate(media_ids)
            },
            "block_order": [f"s{i}" for i in range(len(media_ids))],
        },
        "notice": {"type": "notice_bar", "settings": {"text": "满 99 包邮，全场正品保障", "link": "/search"}},
        "search": {"type": "search_bar", "settings": {}},
        "hot": {"type": "product_grid", "settings": {"title": "热销榜", "source": "best_sellers", "count": 6}},
        "picked": {
            "type": "product_grid",
            "settings": {"title": "店长推荐", "source": "picked", "products": product_ids[:4], "columns": 2},
        },
        "coupons": {
            "type": "marketing_strip",
            "settings": {"title": "领券"},
            "blocks": {
                "c1": {"type": "offer", "settings": {"amount": "¥10", "label": "满 99 可用"}},
                "c2": {"type": "offer", "settings": {"amount": "¥30", "label": "满 299 可用"}},
            },
            "block_order": ["c1", "c2"],
        },
        "info": {"type": "store_info", "settings": {"intro": "杭州临安的山货小店"}},
    }
    return {"sections": sections, "order": list(sections)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=20_000, help="per measurement")
    args = parser.parse_args()

    config, scratch = mallow_config(args.backend, "render")
    app = None
    try:
        app = measure_all(args, config, scratch)
    finally:
        drop_scratch(app, scratch)


def measure_all(args, config: dict, scratch: str | None):
    from mallow.app import create_app
    from mallow.builder.cache import RenderCache
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.edge import pages as kept_pages
    from mallow.qualifications.matrix import seed_defaults
    from mallow.testing import bearer, make_store, merchant_token, png_bytes

    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
        platform_url = db.engine.url.render_as_string(hide_password=False)
    shop = make_store(app)
    client = app.test_client()
    headers = bearer(merchant_token(client, shop))
    api = f"{shop.prefix}/api/console"
    product_ids = []
    for i in range(20):
        made = client.post(
            f"{api}/products",
            headers=headers,
            json={
                "title": f"临安山核桃仁 {i}",
                "status": "on_shelf",
                "skus": [{"spec_values": {}, "price": 1000 + i, "stock": 100}],
            },
        )
        product_ids.append(made.get_json()["id"])
        client.post(
            f"{api}/products/{product_ids[-1]}/images",
            headers=headers,
            content_type="multipart/form-data",
            data={"image": [(io.BytesIO(png_bytes((480, 480))), "p.png")]},
        )
    media_ids = [
        client.post(
            f"{api}/media",
            headers=headers,
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(png_bytes((1200, 600))), "b.png")},
        ).get_json()["id"]
        for _ in range(2)
    ]
    saved = client.put(
        f"{api}/pages/home/draft", headers=headers, json={"document": home_document(product_ids, media_ids)}
    )
    assert saved.status_code == 200, saved.get_json()
    assert client.post(f"{api}/pages/home/publish", headers=headers).status_code == 201

    warm_cache = app.extensions["mallow.page_cache"]
    cold_cache = RenderCache(max_entries=0)  # keeps nothing: every request renders
    warm_pages = app.extensions[kept_pages.EXTENSION]
    no_pages = kept_pages.PageMemory(0, 0)  # and no kept page (memory or file) answers first

    def home(cache, kept):
        def measure():
            app.extensions["mallow.page_cache"] = cache
            app.extensions[kept_pages.EXTENSION] = kept
            return rate(client, "GET", f"{shop.prefix}/", args.seconds, args.max_requests, check="data-block-id")

        return measure

    bare_url = platform_url if args.backend == "postgresql" else f"sqlite:///{config['MALLOW_DATA_DIR']}/bare.db"
    bare = bare_app(bare_url).test_client()
    scenarios = [
        (
            "home, cache cold",
            home(cold_cache, no_pages),
            "A-dbpage: bare page + one query",
            lambda: rate(bare, "GET", "/dbpage", args.seconds, args.max_requests),
            0.75,
        ),
        (
            "home, cache warm",
            home(warm_cache, warm_pages),
            "A-page: bare Jinja page (20 products)",
            lambda: rate(bare, "GET", "/page", args.seconds, args.max_requests),
            1.0,
        ),
    ]
    print(f"backend: {args.backend}; {args.rounds} alternating rounds of {args.seconds:.0f} s each; in-process WSGI")
    print(f"{'scenario':18} {'mallow req/s':>13}   {'baseline':38} {'req/s':>9} {'ratio':>7} {'target':>7}")
    for name, measure, base_name, base, target in scenarios:
        ours, theirs = [], []
        for _ in range(args.rounds):
            theirs.append(base())
            ours.append(measure())
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{name:18} {a:13.0f}   {base_name:38} {b:9.0f} {a / b:7.2f} {target:7.2f}")
        sys.stdout.flush()
    app.extensions["mallow.page_cache"] = warm_cache
    app.extensions[kept_pages.EXTENSION] = warm_pages
    print(
        f"warm runs: kept pages {warm_pages.hits} hits, {warm_pages.misses} misses (answered before Flask); "
        f"render cache {warm_cache.hits} hits, {warm_cache.misses} misses"
    )

    return app


if __name__ == "__main__":
    main()
