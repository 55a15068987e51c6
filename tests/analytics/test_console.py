"""The console's 概况 page (SVG charts, Chinese labels), its CSV exports, the segment → coupon
action, and the daily rollup job, on the seeded store (tests/analytics/conftest.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from mallow.testing import JobRecorder, bearer, login_merchant, merchant_token

from .conftest import AS_OF, at


_SIGNED_IN: dict = {}


def console(app, shop):
    """One signed-in console client per store (sign-ins are rate limited)."""
    client = _SIGNED_IN.get((id(app), shop.slug))
    if client is None:
        client = _SIGNED_IN[(id(app), shop.slug)] = app.test_client()
        login_merchant(client, shop)
    return client


def test_the_page_draws_its_charts_on_the_server_in_chinese(app, seeded):
    shop, _ = seeded
    page = console(app, shop).get(f"{shop.prefix}/console/analytics?date={AS_OF.isoformat()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in ("chart-gmv", "chart-visitors", "chart-funnel"):
        assert f'<svg class="chart" id="{chart}"' in html
    assert "<script" not in html.split("<main>", 1)[-1]  # no chart library
    assert '<html lang="zh-CN">' in html and "<h1>概况 " in html
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from flask_babel import gettext

        # the catalogue's Chinese (成交额, 访客数, 转化漏斗, 重要价值, 重要唤回, 新客, 流失…) once merged
        labels = [
            gettext(m)
            for m in (
                "GMV",
                "Visitors",
                "Conversion funnel, last 30 days",
                "Important value",
                "Important win-back",
                "New customers",
                "Lost",
            )
        ]
    for label in labels:
        assert label in html, label
    assert '<td class="num">¥520.00</td>' in html  # 30-day GMV


def test_the_dashboard_shows_today(app, seeded):
    shop, _ = seeded
    html = console(app, shop).get(f"{shop.prefix}/console/").get_data(as_text=True)
    assert 'id="overview-today"' in html and 'id="analytics-link"' in html


def test_daily_csv(app, seeded):
    shop, _ = seeded
    answer = console(app, shop).get(f"{shop.prefix}/console/analytics/daily.csv?date={AS_OF.isoformat()}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["day", "gmv_fen", "paid_orders", "paying_customers", "visitors", "page_views"]
    by_day = {row[0]: row[1:] for row in rows[1:]}
    assert len(by_day) == 30
    assert by_day["2026-03-10"] == ["10000", "1", "1", "0", "0"]  # O1 (O10 is a test order)
    assert by_day["2026-03-09"] == ["2000", "1", "1", "1", "1"]  # O4; v1
    assert by_day["2026-03-06"] == ["-5000", "0", "0", "1", "1"]  # O5's refund; v4
    assert by_day["2026-02-14"] == ["20000", "1", "1", "0", "0"]  # O5


def test_segment_csv_has_ids_and_scores_only(app, seeded):
    shop, seed = seeded
    answer = console(app, shop).get(f"{shop.prefix}/console/analytics/segments/win_back.csv?date={AS_OF.isoformat()}")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows == [
        ["customer_id", "segment", "r", "f", "m", "recency_days", "paid_orders", "amount_fen", "last_paid"],
        [str(seed["customers"]["C3"]), "win_back", "2", "3", "3", "24", "2", "20000", "2026-02-14"],
    ]
    assert console(app, shop).get(f"{shop.prefix}/console/analytics/segments/nobody.csv").status_code == 404


def test_issuing_a_coupon_to_a_segment_reaches_exactly_its_customers(app, seeded):
    shop, seed = seeded
    client = console(app, shop)
    token = merchant_token(app.test_client(), shop)  # (the figures tests took one or two tokens)
    now = datetime.now(UTC)
    created = app.test_client().post(
        f"{shop.prefix}/api/console/coupons",
        headers=bearer(token),
        json={
            "name": "老客回馈券",
            "kind": "amount_off",
            "threshold_fen": 10000,
            "amount_fen": 1000,
            "total_quantity": 100,
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "status": "active",
        },
    )
    assert created.status_code == 201, created.get_json()
    coupon_id = created.get_json()["id"]
    page = client.get(f"{shop.prefix}/console/analytics?date={AS_OF.isoformat()}").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    jobs, app.extensions["mallow.jobs"] = app.extensions["mallow.jobs"], JobRecorder()
    try:
        recorder = app.extensions["mallow.jobs"]
        url = f"{shop.prefix}/console/analytics/segments/%s/coupon?date={AS_OF.isoformat()}"
        answer = client.post(url % "valuable", data={"csrf_token": csrf, "coupon_id": str(coupon_id)})
        assert answer.status_code == 303
        bad = client.post(url % "lost", data={"csrf_token": csrf, "coupon_id": "999999"})
        assert bad.status_code == 422 and 'data-field="coupon_id"' in bad.get_data(as_text=True)
    finally:
        app.extensions["mallow.jobs"] = jobs
    [(name, kwargs)] = recorder.queued
    assert name == "coupons.issue"
    assert (kwargs["coupon_id"], kwargs["customer_ids"]) == (coupon_id, [seed["customers"]["C1"]])


def test_the_rollup_job_writes_daily_rows_prunes_and_drops_the_cache(app, seeded):
    import sqlalchemy as sa

    from mallow.analytics import models as m
    from mallow.analytics.jobs import sweep
    from mallow.db import db
    from mallow.jobs.registry import jobs_of
    from mallow.tenants.context import store_context

    shop, seed = seeded
    assert jobs_of(app).periodic()["analytics.sweep"] == 3600
    assert jobs_of(app).spec_of("analytics.compute").store is True
    now = at(-1, 1)  # 01:00 on 03-12: rolls up 03-10 and 03-11, keeps 90 days of events
    with store_context(shop.store_id, app=app) as store:
        db.session.add(m.CachedFigures(key="heavy:2026-03-01", day=AS_OF - timedelta(days=10), data={}))
        db.session.commit()
        result = sweep(store, now)
        products = {
            (r.day.isoformat(), r.product_id): (r.views, r.carts, r.paid_units, r.paid_amount)
            for r in db.session.execute(sa.select(m.DailyProduct)).scalars()
        }
        sources = {
            (r.day.isoformat(), m.SOURCES[r.source]): (r.visitors, r.orders)
            for r in db.session.execute(sa.select(m.DailySource)).scalars()
        }
        cached = sorted(db.session.execute(sa.select(m.CachedFigures.key)).scalars())
    assert result["pruned"] == 0
    p = seed["products"]
    # 03-10: O1 paid (P1 × 1, 100.00); 03-11: O8 paid (P3 × 3, 60.00); v6 viewed a page on 03-11
    assert products == {("2026-03-10", p["P1"]): (0, 0, 1, 10000), ("2026-03-11", p["P3"]): (0, 0, 3, 6000)}
    assert sources == {("2026-03-11", "direct"): (1, 0)}
    assert cached == ["heavy:2026-03-12"]  # earlier days dropped, today's computed
