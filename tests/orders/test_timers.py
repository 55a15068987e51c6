"""The order timers of the periodic sweep, with the clock moved forward: shipped orders count as
received after ``auto_confirm_receipt_days`` (自动确认收货, by the system), delivered orders
complete after ``auto_complete_days``, and both wait while an after-sales request is open."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

from mallow.jobs.registry import execute
from mallow.testing.payments import pay_with_sandbox, place_order
from mallow.testing import PASSWORD, bearer, make_product, make_store, merchant_token, register_shopper


class Shipped:
    """A store with one paid order, shipped by the merchant just now."""

    def __init__(self, app):
        self.app = app
        self.shop = make_store(app)
        self.client = app.test_client()
        [sku] = make_product(app, self.shop, title="手剥山核桃", price=2990, stock=10)
        self.browser = app.test_client()
        login = register_shopper(self.browser, self.shop)
        self.token = self.client.post(
            f"{self.shop.prefix}/api/tokens", json={"login": login, "password": PASSWORD}
        ).get_json()["token"]
        address = self.client.post(
            f"{self.shop.prefix}/api/addresses",
            headers=bearer(self.token),
            json={
                "recipient": "王五",
                "phone": "13700001111",
                "province": "浙江省",
                "city": "杭州市",
                "detail": "天目山路 1 号",
            },
        ).get_json()["id"]
        self.mtoken = merchant_token(self.client, self.shop)
        self.order_id = place_order(self.client, self.shop, self.token, address, sku)["id"]
        pay_with_sandbox(self.client, self.shop, self.token, self.order_id)
        shipped = self.client.post(
            f"{self.shop.prefix}/api/console/orders/{self.order_id}/ship",
            headers=bearer(self.mtoken),
            json={"carrier": "中通快递", "tracking_number": "ZT100"},
        )
        assert shipped.status_code == 200, shipped.get_json()
        self.shipped_at = datetime.fromisoformat(
            next(e["at"] for e in shipped.get_json()["timeline"] if e["kind"] == "shipped")
        )
        if self.shipped_at.tzinfo is None:
            self.shipped_at = self.shipped_at.replace(tzinfo=UTC)

    def sweep(self, after: timedelta) -> dict:
        """Run this store's order sweep as if ``after`` had passed since shipping."""
        return execute(
            self.app,
            "orders.sweep_store",
            {"store_id": self.shop.store_id, "now": (self.shipped_at + after).isoformat()},
        )

    def order(self) -> dict:
        return self.client.get(f"{self.shop.prefix}/api/orders/{self.order_id}", headers=bearer(self.token)).get_json()

    def setting(self, key: str, value) -> None:
        from mallow import settings
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            settings.put(key, value)
            db.session.commit()


def test_shipped_orders_are_received_automatically_after_ten_days_by_the_system(app):
    shipped = Shipped(app)
    assert shipped.sweep(timedelta(days=9, hours=23))["confirmed"] == 0
    assert shipped.order()["status"] == "shipped"

    assert shipped.sweep(timedelta(days=10, minutes=1))["confirmed"] == 1
    order = shipped.order()
    assert order["status"] == "delivered"
    event = order["timeline"][-1]
    assert (event["kind"], event["by"], event["detail"]) == ("auto_delivered", "system", {"after_days": 10})
    staff_view = shipped.client.get(
        f"{shipped.shop.prefix}/api/console/orders/{shipped.order_id}", headers=bearer(shipped.mtoken)
    ).get_json()
    assert staff_view["timeline"][-1]["actor"] == "system"
    assert shipped.sweep(timedelta(days=10, minutes=2))["confirmed"] == 0  # once
    # The shopper can no longer confirm; the order page says who did.
    again = shipped.client.post(
        f"{shipped.shop.prefix}/api/orders/{shipped.order_id}/confirm", headers=bearer(shipped.token)
    )
    assert again.status_code == 409
    assert [e["kind"] for e in shipped.order()["timeline"]].count("auto_delivered") == 1
    page = shipped.browser.get(f"{shipped.shop.prefix}/orders/{shipped.order_id}?lang=en").get_data(as_text=True)
    assert 'data-kind="auto_delivered"' in page and "Receipt confirmed automatically" in page


def test_delivered_orders_complete_after_the_stores_delay(app):
    shipped = Shipped(app)
    confirmed = shipped.client.post(
        f"{shipped.shop.prefix}/api/orders/{shipped.order_id}/confirm", headers=bearer(shipped.token)
    )
    assert confirmed.status_code == 200
    delivered_at = datetime.fromisoformat(confirmed.get_json()["timeline"][-1]["at"])
    delivered_after = delivered_at.replace(tzinfo=delivered_at.tzinfo or UTC) - shipped.shipped_at
    result = shipped.sweep(delivered_after + timedelta(days=6, hours=23))
    assert result == {"closed": 0, "confirmed": 0, "completed": 0} and shipped.order()["status"] == "delivered"
    result = shipped.sweep(delivered_after + timedelta(days=7, minutes=1))
    assert result == {"closed": 0, "confirmed": 0, "completed": 1}
    order = shipped.order()
    assert order["status"] == "completed"
    assert (order["timeline"][-1]["kind"], order["timeline"][-1]["by"]) == ("completed", "system")
    # The shopper confirmed first: the receipt timer never had anything to do.
    assert shipped.sweep(timedelta(days=30)) == {"closed": 0, "confirmed": 0, "completed": 0}
    assert [e["kind"] for e in shipped.order()["timeline"]] == [
        "placed",
        "payment_started",
        "paid",
        "shipped",
        "delivered",
        "completed",
    ]


def test_the_delays_are_store_settings(app):
    shipped = Shipped(app)
    shipped.setting("auto_confirm_receipt_days", 15)
    shipped.setting("auto_complete_days", 3)
    assert shipped.sweep(timedelta(days=14))["confirmed"] == 0
    assert shipped.sweep(timedelta(days=15, minutes=1))["confirmed"] == 1
    assert shipped.order()["timeline"][-1]["detail"] == {"after_days": 15}
    # Delivered by the timer at day 15: complete three days later.
    assert shipped.sweep(timedelta(days=17, hours=23))["completed"] == 0
    assert shipped.sweep(timedelta(days=18, minutes=2))["completed"] == 1
    # Another store keeps the defaults.
    other = Shipped(app)
    assert other.sweep(timedelta(days=10, minutes=1))["confirmed"] == 1


def test_an_open_after_sales_request_holds_the_timers(app):
    shipped = Shipped(app)
    requested = shipped.client.post(
        f"{shipped.shop.prefix}/api/orders/{shipped.order_id}/aftersales",
        headers=bearer(shipped.token),
        json={"kind": "refund_only", "reason": "快递一直没动"},
    )
    assert requested.status_code == 201, requested.get_json()
    assert shipped.sweep(timedelta(days=30))["confirmed"] == 0
    assert shipped.order()["status"] == "shipped"
    rejected = shipped.client.post(
        f"{shipped.shop.prefix}/api/console/aftersales/{requested.get_json()['id']}/decision",
        headers=bearer(shipped.mtoken),
        json={"approve": False, "reason": "物流显示已签收"},
    )
    assert rejected.status_code == 200
    assert shipped.sweep(timedelta(days=30))["confirmed"] == 1
    assert shipped.order()["status"] == "delivered"


def test_the_receipt_timer_runs_in_the_every_store_sweep(app):
    shipped = Shipped(app)
    results = execute(app, "orders.sweep", {"now": (shipped.shipped_at + timedelta(days=10, minutes=1)).isoformat()})
    assert results[shipped.shop.store_id]["confirmed"] == 1
    assert shipped.order()["status"] == "delivered"
