"""The console's 概况 (analytics) pages, staff of the store only: today's figures, the 7/30-day
charts (server-side SVG), the funnel, top products, traffic sources, RFM segments with the
"issue a coupon" action, and the CSV exports (daily figures; a segment's customers by id, with
no personal data). The figures are :mod:`mallow.analytics.service`'s, shared with the API."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.analytics import figures, rfm, service, svg
from mallow.coupons import service as coupons
from mallow.web import render_form
from mallow.web.blueprints import console as bp


def _percent(permille: int) -> str:
    """A step's conversion as merchants read it: ``80.0%`` (the figure is an integer per mille)."""
    return f"{permille // 10}.{permille % 10}%"


def source_label(name: str) -> str:
    return {
        "direct": _("Direct"),
        "share": _("Share links"),
        "distributor": _("Distributor links"),
        "campaign": _("Campaigns"),
    }.get(name, name)


def _as_of() -> date:
    raw = request.args.get("date", "")
    if not raw:
        return figures.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400)


def charts(data: dict) -> dict:
    days = [row["day"] for row in data["daily"]]
    funnel = data["periods"]["30"]["funnel"]
    return {
        "gmv": svg.line_chart(
            _("GMV, last 30 days"), days, [r["gmv"] for r in data["daily"]], money=True, chart_id="chart-gmv"
        ),
        "visitors": svg.line_chart(
            _("Visitors, last 30 days"), days, [r["visitors"] for r in data["daily"]], chart_id="chart-visitors"
        ),
        "funnel": svg.funnel_chart(
            _("Conversion funnel, last 30 days"),
            [
                (_("Viewed"), funnel["viewed"]),
                (_("Added to cart"), funnel["carted"]),
                (_("Ordered"), funnel["ordered"]),
                (_("Paid"), funnel["paid"]),
            ],
            chart_id="chart-funnel",
        ),
    }


def _page(errors=None):
    as_of = _as_of()
    data = service.analytics(as_of)
    return render_form(
        "console/analytics.html",
        errors=errors,
        data=data,
        charts=charts(data),
        rates={step: _percent(permille) for step, permille in figures.rates(data["periods"]["30"]["funnel"]).items()},
        segments=[(name, rfm.SEGMENT_LABELS[name], data["rfm"]["counts"][name]) for name in rfm.SEGMENTS],
        coupons=coupons.list_coupons("active"),
        source_label=source_label,
        as_of=as_of,
    )


@bp.get("/analytics")
@staff_required
def analytics():
    return _page()


@bp.get("/analytics/daily.csv")
@staff_required
def analytics_daily_csv():
    data = service.analytics(_as_of())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["day", "gmv_fen", "paid_orders", "paying_customers", "visitors", "page_views"])
    for row in data["daily"]:
        writer.writerow([row["day"], row["gmv"], row["orders"], row["customers"], row["visitors"], row["page_views"]])
    return _csv(buffer, "analytics-daily.csv")


@bp.get("/analytics/segments/<segment>.csv")
@staff_required
def analytics_segment_csv(segment):
    if segment not in rfm.SEGMENTS:
        abort(404)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["customer_id", "segment", "r", "f", "m", "recency_days", "paid_orders", "amount_fen", "last_paid"])
    for row in service.segment_customers(segment, _as_of()):
        writer.writerow(
            [
                row["customer_id"],
                segment,
                row["r"],
                row["f"],
                row["m"],
                row["recency_days"],
                row["orders"],
                row["amount"],
                row["last_paid"],
            ]
        )
    return _csv(buffer, f"segment-{segment}.csv")


def _csv(buffer: io.StringIO, name: str) -> Response:
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.post("/analytics/segments/<segment>/coupon")
@staff_required
def analytics_segment_coupon(segment):
    """Issue the chosen coupon to every customer of ``segment`` (a job, after this answer)."""
    if segment not in rfm.SEGMENTS:
        abort(404)
    from mallow.validation import ValidationFailed

    raw = request.form.get("coupon_id", "")
    coupon = coupons.get_coupon(int(raw)) if raw.isdigit() and 0 < int(raw) < 2**31 else None
    if coupon is None or coupon.status != "active":
        return _page(ValidationFailed({"coupon_id": ("invalid", _("Choose an active coupon."))}))
    ids = [row["customer_id"] for row in service.segment_customers(segment, _as_of())]
    if ids:
        coupons.queue_issue(coupon.id, ids)
    flash(_("The coupon is being issued to %(count)s customers.", count=len(ids)), "success")
    return redirect(url_for("console.analytics")), 303


@bp.app_context_processor
def analytics_summary():
    """``analytics_today()`` for the console's dashboard: today's figures (live, one day)."""

    def today():
        return figures.period(1, figures.today())

    return {"analytics_today": today}
