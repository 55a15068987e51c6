"""The sold-out answer before Flask (``mallow_early_routes``): once an item is gone, the crowd's
buy attempts are answered from this process's sold-out flag (:mod:`mallow_flashsale.flags`)
with no request context, session, query or Redis round trip.

The handler answers exactly what the buy route answers first for the same request (409
``{"error": "sold_out", "message": …}`` in the request's language) and nothing else: a body the
route would refuse (no JSON object, a bad SKU or quantity) and an item not flagged go on to the
route. Once the flag is older than ``FLASHSALE_SOLDOUT_SECONDS`` it asks the Redis gate for the
item's units once (in an app context: the gate reads the app's settings), so units that came
back are sold again at most one interval later; without Redis the route decides again.

An item not known sold out is admitted here when the shopper's token is mirrored in the gate's
Redis (:mod:`mallow_flashsale.admission`: 202 with a ticket, the order made behind the door), and
the ticket is polled here too (``GET …/tickets/<ticket>``).
"""

from __future__ import annotations

import json

from flask import current_app
from flask_babel import force_locale

from mallow.sdk import EarlyAnswer, EarlyRequest
from mallow_flashsale import admission, flags, gate
from mallow_flashsale.buying import whole_number
from mallow_flashsale.i18n import _

BUY_RULE = "/api/x/flashsale/sales/<int:sale_id>/buy"


def _json_object(request: EarlyRequest) -> dict | None:
    """The body as the route's ``request.get_json(silent=True)`` reads it, when it is an object."""
    mimetype = (request.environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if mimetype != "application/json" and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        return None
    try:
        data = json.loads(request.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def routes() -> list:
    """The early routes of the app in whose context this runs (``mallow_early_routes``)."""
    app = current_app._get_current_object()
    memory = flags.memory()
    texts = {}
    for locale in app.config["MALLOW_LOCALES"]:
        with force_locale(locale):
            texts[locale] = str(_("Sold out"))
    default = texts.get(app.config["BABEL_DEFAULT_LOCALE"]) or str(_("Sold out"))
    door = admission.Door(app)

    def buy(request: EarlyRequest) -> EarlyAnswer | None:
        data = _json_object(request)
        if data is None:
            return None
        sku_id, quantity = whole_number(data.get("sku_id")), whole_number(data.get("quantity"), 1)
        if sku_id is None or quantity is None or not 1 <= quantity <= 999:
            return None
        store_id, sale_id = request.store_id, request.args["sale_id"]

        def units_left(item_id: int) -> int | None:
            with app.app_context():
                return gate.units_left(store_id, sale_id, item_id)

        if not memory.known_sold_out((store_id, sale_id, sku_id), units_left):
            return door.buy(request, data, sku_id, quantity, memory)
        return EarlyAnswer(409, {"error": "sold_out", "message": texts.get(request.locale, default)})

    return [("POST", BUY_RULE, buy), ("GET", admission.TICKET_RULE, door.poll)]
