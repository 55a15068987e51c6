"""The store's analytics in the console API (概况: :mod:`mallow.analytics`): ``getStoreAnalytics``."""

from __future__ import annotations

from datetime import date

from flask import jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.analytics import figures, service
from mallow.api.catalog_shapes import bad_query
from mallow.api.registry import operation
from mallow.validation import ValidationFailed

_PERIOD = {
    "type": "object",
    "description": "Figures of a window of local days (money in fen)",
    "properties": {
        "gmv": {"type": "integer", "description": "paid totals minus refunds that succeeded in the window (fen)"},
        "orders": {"type": "integer"},
        "customers": {"type": "integer"},
        "visitors": {"type": "integer"},
        "funnel": {"type": "object"},
        "top_products": {"type": "array"},
        "sources": {"type": "array"},
    },
}


@operation(
    "console_api",
    "GET",
    "/analytics",
    "getStoreAnalytics",
    "The store's figures (概况): today (live), the last 7 and 30 complete days (GMV in fen: paid "
    "orders minus refunds; paid orders; paying customers; distinct visitors; the funnel view → cart "
    "→ order → paid; top products by paid amount; traffic sources), the 30 daily rows, and the "
    "number of customers in each RFM segment. The heavy figures are computed by a job and cached "
    "for the day.",
    tag="analytics",
    auth="merchant",
    parameters=[
        {
            "name": "date",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "date"},
            "description": "the local day the figures are for (default: today)",
        }
    ],
    responses={
        "200": {
            "description": "The figures",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "as_of": {"type": "string", "format": "date"},
                            "today": _PERIOD,
                            "periods": {"type": "object", "properties": {"7": _PERIOD, "30": _PERIOD}},
                            "daily": {"type": "array"},
                            "rfm": {"type": "object"},
                        },
                    }
                }
            },
        },
        "400": "A bad date, with field errors",
    },
)
@staff_required
def get_store_analytics():
    raw = request.args.get("date", "")
    as_of = figures.today()
    if raw:
        try:
            as_of = date.fromisoformat(raw)
        except ValueError:
            return bad_query(ValidationFailed({"date": ("invalid", _("Give a date as YYYY-MM-DD."))}))
    return jsonify(service.analytics(as_of))
