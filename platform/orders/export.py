"""The orders CSV (UTF-8 with BOM, amounts in fen): one export for the console page and the
console API's ``exportOrders``."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Response

from mallow.db import db

COLUMNS = [
    "number",
    "status",
    "created_at",
    "items_total_fen",
    "total_fen",
    "refunded_fen",
    "province",
    "carrier",
    "tracking_number",
    "test",
    "lines",
]


def csv_response(query: sa.Select) -> Response:
    """The orders of ``query`` as an ``orders.csv`` download; ``test`` is 1 for a sandbox order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for order in db.session.execute(query).scalars():
        writer.writerow(
            [
                order.number,
                order.status,
                order.created_at.isoformat(),
                order.items_total,
                order.total,
                order.refunded_total,
                order.province,
                order.carrier or "",
                order.tracking_number or "",
                "1" if order.is_test else "0",
                "; ".join(f"{line.title} {line.spec_key} ×{line.quantity}".replace("  ", " ") for line in order.lines),
            ]
        )
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=orders.csv"},
    )
