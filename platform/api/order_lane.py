"""Order placement on a lane (:mod:`mallow.edge.lanes`): ``POST /s/<store>/api/orders`` answered
at the front door, before Flask, when it is the happy path.

What the lane answers, with the bytes, status and headers :func:`mallow.api.orders.create_order`
would send (201 and the order; 200 and the order first placed under the same Idempotency-Key):
a shopper whose bearer token this process holds in its session memory (under the store's
current sessions stamp: no statement, :func:`mallow.api.shopper_lane.customer_from_memory`) places
an order in an open store with an ``Idempotency-Key``, a JSON body valid for the operation's
schema (compiled to plain comparisons once, :func:`mallow.edge.lanes.body_check`) and no
``options``. The order is placed by the route's own code, :func:`mallow.orders.checkout.place_order`
(the same statements, the same plugin hooks, guarded as in Flask, the same commit and the jobs
queued after it), inside an app context of the store, with no request context; the answer is
:func:`mallow.api.order_shapes.order_json` of the order, as the route writes it.

Everything else goes to Flask, which answers as it always does: a token the memory does not hold,
a body Flask would refuse or that has ``options`` (coupons, points, the plugins' own options:
their hooks read the request), a request without an Idempotency-Key, a query string (``?lang=``
sets a cookie), any cookie but ``lang`` (the analytics' visitor and source cookies, a session
that may hold a referral), a rate limit that applies to the route, and every refusal of the
order (sold out, a problem, a field error, an Idempotency-Key used for another order): those are
raised before anything is committed and rolled back, so Flask's route places the same order again
or refuses it with its own answer.

Why the Idempotency-Key: the lane gives way on any exception, and an exception after the commit
(while the answer is written) would otherwise let Flask place a second order. With the key, Flask
answers the order already placed (200), never a second one.

The answer's text (the timeline, the lines' titles, an adjustment's label such as the shipping
fee's, written with the order) is in the language Flask would choose (the ``lang`` cookie, else
``Accept-Language``).
"""

from __future__ import annotations


from mallow.api.order_shapes import order_json
from mallow.api.registry import ApiRegistry
from mallow.api.shopper_lane import HEADERS, LANG, ShopperLane
from mallow.edge import lanes
from mallow.orders import checkout
from mallow.validation import ValidationFailed

RULE = "/api/orders"  # createOrder, inside the store
OPERATION = "createOrder"
#: what place_order raises with nothing committed: Flask's route answers them
_REFUSALS = (checkout.SoldOut, checkout.IdempotencyConflict, checkout.CheckoutProblems, ValidationFailed)


class _Shopper:
    """The shopper as :func:`mallow.orders.checkout.place_order` uses one: by id."""

    __slots__ = ("id",)

    def __init__(self, customer_id: int):
        self.id = customer_id


class CreateOrderLane(ShopperLane):
    """The lane of ``createOrder`` in one app."""

    OPERATION = OPERATION

    def cookies_ok(self, app, cookies) -> bool:
        return all(name == LANG for name in cookies)  # the others change what the route records

    def __call__(self, app, environ: dict, snapshot, args: dict):
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if key is None or not key.strip():
            return None
        admitted = self.admit(app, environ, snapshot)
        if admitted is None:
            return None
        customer_id, payload, locale = admitted
        if payload.get("options"):
            return None
        return self.in_store(app, snapshot, locale, lambda: self._place(app, customer_id, payload, key))

    def _place(self, app, customer_id: int, data: dict, key: str):
        """The route's answer (in the app context of the store), or None when the order was
        refused with nothing written."""
        try:
            order, created = checkout.place_order(
                _Shopper(customer_id), data["items"], data["address_id"], data.get("note", ""), key, data.get("options")
            )
        except _REFUSALS:
            return None
        return lanes.json_answer(app, 201 if created else 200, order_json(order), HEADERS)


def install(app, registry: ApiRegistry) -> None:
    """Put order placement on a lane when the app routes ``createOrder`` (once per app)."""
    if not any(op.operation_id == OPERATION for op in registry.operations):
        return
    if any(isinstance(handler, CreateOrderLane) for handler in lanes.lanes_of(app).handlers):
        return
    lanes.register(app, "POST", RULE, CreateOrderLane(app, registry))
