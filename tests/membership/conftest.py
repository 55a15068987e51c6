"""Helpers of the membership tests: the programme and levels through the console API, shoppers,
orders through the store API, paid, delivered, completed and refunded.

The sandbox cashier marks its orders test orders, which earn nothing (tested on its own); the
helper :meth:`Mall.pay` turns that mark off afterwards to stand for a real payment (WeChat Pay),
so completion earns and refunds go back through the sandbox as they would through WeChat Pay."""

from __future__ import annotations

from mallow.testing import bearer, make_product, make_shopper, merchant_token
from mallow.testing.payments import pay_with_sandbox


def in_store(app, shop, func):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return func()


class Shopper:
    def __init__(self, token: str, address: int, customer_id: int):
        self.token, self.address, self.id = token, address, customer_id


class Mall:
    """One store driven the way its merchant and shoppers would (console API, store API)."""

    def __init__(self, app, shop, **program):
        self.app, self.shop, self.client = app, shop, app.test_client()
        self.mtoken = merchant_token(self.client, shop)
        self.console = f"{shop.prefix}/api/console/membership"
        if program is not None:
            self.program(**({"enabled": True} | program))

    # -- the merchant ----------------------------------------------------------------------
    def call(self, method: str, url: str, token: str | None = None, body=None, expect: int = 200):
        response = self.client.open(url, method=method, headers=bearer(token or self.mtoken), json=body)
        assert response.status_code == expect, (response.status_code, response.get_json())
        return response.get_json()

    def program(self, expect: int = 200, **fields):
        return self.call("PATCH", f"{self.console}/program", body=fields, expect=expect)

    def level(self, expect: int = 201, **fields):
        body = {"name": "金卡", "threshold": 0, "discount_percent": 100, "free_shipping": False} | fields
        return self.call("POST", f"{self.console}/levels", body=body, expect=expect)

    def adjust(self, shopper: Shopper, points: int, reason: str = "客服补偿", expect: int = 201):
        body = {"points": points, "reason": reason}
        return self.call("POST", f"{self.console}/members/{shopper.id}/points", body=body, expect=expect)

    def product(self, price: int = 10000, **kwargs) -> int:
        [sku] = make_product(self.app, self.shop, price=price, **kwargs)
        return sku

    # -- shoppers --------------------------------------------------------------------------
    def shopper(self) -> Shopper:
        from mallow.accounts.models import Customer
        from mallow.db import db

        token, address = make_shopper(self.client, self.shop)
        newest = in_store(self.app, self.shop, lambda: db.session.execute(db.select(db.func.max(Customer.id))).scalar())
        return Shopper(token, address, int(newest))

    def membership(self, shopper: Shopper) -> dict:
        return self.call("GET", f"{self.shop.prefix}/api/membership", shopper.token)

    def points(self, shopper: Shopper) -> int:
        return self.membership(shopper)["points"]

    def ledger(self, shopper: Shopper, **query) -> dict:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        return self.call("GET", f"{self.shop.prefix}/api/membership/points?{params}", shopper.token)

    # -- orders ----------------------------------------------------------------------------
    def quote(self, shopper: Shopper, items, options=None, province: str | None = None) -> dict:
        body: dict = {"items": [{"sku_id": s, "quantity": q} for s, q in items]}
        if options is not None:
            body["options"] = options
        if province:
            body["province"] = province
        return self.call("POST", f"{self.shop.prefix}/api/checkout/quote", shopper.token, body)

    def order(self, shopper: Shopper, items, options=None, expect: int = 201) -> dict:
        body: dict = {"items": [{"sku_id": s, "quantity": q} for s, q in items], "address_id": shopper.address}
        if options is not None:
            body["options"] = options
        return self.call("POST", f"{self.shop.prefix}/api/orders", shopper.token, body, expect=expect)

    def pay(self, shopper: Shopper, order: dict) -> None:
        """Pay on the sandbox cashier, then stand for a real payment (see the module)."""
        from mallow.db import db
        from mallow.orders.models import Order

        pay_with_sandbox(self.client, self.shop, shopper.token, order["id"])

        def real():
            db.session.get(Order, order["id"]).is_test = False
            db.session.commit()

        in_store(self.app, self.shop, real)

    def complete(self, shopper: Shopper, order: dict) -> None:
        """Ship, confirm receipt, and complete (what the order sweep does after the delay)."""
        from mallow.db import db
        from mallow.orders import service
        from mallow.orders.models import Order

        shipped = {"carrier": "顺丰速运", "tracking_number": "SF1234567890"}
        self.call("POST", f"{self.shop.prefix}/api/console/orders/{order['id']}/ship", body=shipped)
        self.call("POST", f"{self.shop.prefix}/api/orders/{order['id']}/confirm", shopper.token, {})

        def complete():
            assert service.complete(db.session.get(Order, order["id"]))
            db.session.commit()

        in_store(self.app, self.shop, complete)

    def refund(self, order: dict, amount: int) -> str:
        from mallow.db import db
        from mallow.orders.models import Order
        from mallow.payments import refunds

        return in_store(
            self.app,
            self.shop,
            lambda: refunds.refund(db.session.get(Order, order["id"]), amount, "退款", "staff:1").status,
        )

    def cancel(self, shopper: Shopper, order: dict, expect: int = 200) -> None:
        self.call("POST", f"{self.shop.prefix}/api/orders/{order['id']}/cancel", shopper.token, expect=expect)

    def bought(self, shopper: Shopper, sku: int, quantity: int = 1, options=None) -> dict:
        """Ordered, paid (a real payment) and completed."""
        placed = self.order(shopper, [(sku, quantity)], options)
        self.pay(shopper, placed)
        self.complete(shopper, placed)
        return placed


def points_adjustments(data) -> list[tuple[str, int]]:
    return [(a["code"], a["amount"]) for a in data["adjustments"] if a["stage"] == "points"]


def adds_up(data) -> bool:
    """The receipt adds up: the total is the items plus every adjustment (lines' included)."""
    lines = sum(a["amount"] for line in data.get("lines", []) for a in line.get("adjustments", []))
    return data["total"] == data["items_total"] + lines + sum(a["amount"] for a in data["adjustments"])
