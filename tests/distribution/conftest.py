"""Fixtures for the distribution plugin: an app per backend with the plugin approved and loaded,
stores with it enabled, shoppers, orders paid with WeChat Pay (a fake WeChat Pay server on
127.0.0.1: real orders; an order paid through the sandbox is a test order and earns nothing)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from mallow.testing import backend_params, dispose_app, enable_plugin, make_product, make_store, plugin_app


@pytest.fixture(scope="session", params=backend_params())
def dist_app(request, tmp_path_factory):
    """A Mallow app with the distribution plugin approved and loaded (one per backend)."""
    app = plugin_app(tmp_path_factory, request.param, ["distribution"])
    yield app
    dispose_app(app)


@pytest.fixture(scope="session")
def wechat_merchant():
    """The WeChat Pay merchant account of every store of these tests (its keys, made once)."""
    from mallow.testing.wechatpay import make_fake_merchant

    return make_fake_merchant()


@pytest.fixture(scope="session")
def wechatpay(dist_app, wechat_merchant):
    """A fake WeChat Pay server that knows :func:`wechat_merchant`, set as the app's WeChat Pay."""
    from mallow.testing.payments import wechatpay_server

    with wechatpay_server(dist_app, wechat_merchant) as server:
        yield server


@pytest.fixture
def shop(dist_app, wechat_merchant):
    """A store with the plugin enabled (defaults: one level, 10 %) that takes WeChat Pay."""
    from mallow.testing.payments import configure_wechatpay

    shop = make_store(dist_app)
    enable_plugin(dist_app, shop, "distribution")
    configure_wechatpay(dist_app, shop, wechat_merchant)
    return shop


@pytest.fixture
def client(dist_app):
    return dist_app.test_client()


class Mall:
    """Drives one store through HTTP the way shoppers and the merchant would."""

    def __init__(self, app, shop, client, wechatpay=None):
        from mallow.testing import merchant_token

        self.app, self.shop, self.client, self.wechatpay = app, shop, client, wechatpay
        self.api = f"{shop.prefix}/api/x/distribution"
        self.console_api = f"{shop.prefix}/api/console/x/distribution"
        self.mtoken = merchant_token(client, shop)

    def configure(self, **settings) -> None:
        """Settings for the plugin in this store (through the platform's enable path)."""
        enable_plugin(self.app, self.shop, "distribution", settings)

    def product(self, price: int = 10000, stock: int = 100) -> int:
        [sku] = make_product(self.app, self.shop, title="分销测试商品", price=price, stock=stock)
        return sku

    # -- people ----------------------------------------------------------------------------
    def shopper(self) -> Person:
        from mallow.testing import make_shopper

        token, address = make_shopper(self.client, self.shop, f"buyer-{uuid.uuid4().hex[:10]}@example.com")
        me = self.get(f"{self.api}/me", token)
        return Person(token, address, me["customer_id"])

    def distributor(self, referred_by: Person | None = None) -> Person:
        """A shopper (bound to ``referred_by`` first, when given) who applied and was approved."""
        person = self.shopper()
        if referred_by is not None:
            assert self.bind(person, referred_by)["bound"]
        applied = self.post(f"{self.api}/apply", person.token, {"agree": True}, expect=(200, 201))
        if applied["status"] != "approved":
            self.post(f"{self.console_api}/distributors/{applied['id']}/decision", self.mtoken, {"approve": True})
        person.distributor_id, person.code = applied["id"], applied["code"]
        return person

    def bind(self, person: Person, referrer: Person) -> dict:
        return self.post(f"{self.api}/bind", person.token, {"code": referrer.code})

    # -- orders ----------------------------------------------------------------------------
    def buy(self, person: Person, sku: int, quantity: int = 1, options: dict | None = None) -> dict:
        """Place an order and pay it with WeChat Pay (a real order); returns the paid order."""
        from mallow.testing import bearer

        body = {"items": [{"sku_id": sku, "quantity": quantity}], "address_id": person.address}
        if options:
            body["options"] = options
        placed = self.client.post(f"{self.shop.prefix}/api/orders", headers=bearer(person.token), json=body)
        assert placed.status_code == 201, placed.get_json()
        return self.pay(person.token, placed.get_json())

    def pay(self, token: str, order: dict, client=None) -> dict:
        """Pay a placed order: with WeChat Pay where the store takes it, else on the sandbox
        cashier (a test order). Returns the order after paying."""
        from mallow.testing.payments import pay_with_sandbox, pay_with_wechatpay

        client = client or self.client
        if self.wechatpay is not None:
            pay_with_wechatpay(client, self.shop, token, order["id"], self.wechatpay)
        else:
            pay_with_sandbox(client, self.shop, token, order["id"])
        return self.get(f"{self.shop.prefix}/api/orders/{order['id']}", token)

    def finish_refunds(self) -> int:
        """WeChat Pay completes the refunds still processing and notifies the store."""
        from mallow.testing.payments import finish_wechatpay_refunds

        if self.wechatpay is None:
            return 0
        return finish_wechatpay_refunds(self.app, self.client, self.shop, self.wechatpay)

    def deliver(self, person: Person, order: dict) -> None:
        self.post(
            f"{self.shop.prefix}/api/console/orders/{order['id']}/ship",
            self.mtoken,
            {"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
        )
        confirmed = self.post(f"{self.shop.prefix}/api/orders/{order['id']}/confirm", person.token, {})
        assert confirmed["status"] == "delivered"

    def refund(self, person: Person, order: dict, amount: int | None = None) -> dict:
        """An after-sales refund the merchant approves, and WeChat Pay completes."""
        body = {"kind": "refund_only", "reason": "不想要了"}
        if amount is not None:
            body["amount"] = amount
        requested = self.post(
            f"{self.shop.prefix}/api/orders/{order['id']}/aftersales", person.token, body, expect=(201,)
        )
        decided = self.post(
            f"{self.shop.prefix}/api/console/aftersales/{requested['id']}/decision", self.mtoken, {"approve": True}
        )
        if self.finish_refunds():
            decided = self.get(f"{self.shop.prefix}/api/console/aftersales/{requested['id']}", self.mtoken)
        assert decided["status"] == "refunded", decided
        return decided

    def settle(self, now) -> dict:
        from mallow.jobs.registry import execute

        return execute(self.app, "distribution.settle_store", {"store_id": self.shop.store_id, "now": now.isoformat()})

    # -- reading ---------------------------------------------------------------------------
    def commissions(self, order: dict | None = None) -> list[dict]:
        path = f"{self.console_api}/commissions" + (f"?order_id={order['id']}" if order else "")
        return self.get(path, self.mtoken)["commissions"]

    def paid_to(self, order: dict) -> dict[int, int]:
        """``{distributor id: net commission}`` of one order."""
        found: dict[int, int] = {}
        for row in self.commissions(order):
            found[row["distributor_id"]] = found.get(row["distributor_id"], 0) + row["net"]
        return found

    def balances(self, person: Person) -> dict:
        return self.get(f"{self.api}/me", person.token)["distributor"]["balances"]

    def check_books(self) -> None:
        """Every posting sums to zero; each distributor's accounts sum to zero with the store's."""
        from mallow.db import db
        from mallow.tenants.context import store_context
        from mallow_distribution import ledger
        from mallow_distribution.models import LedgerEntry

        with store_context(self.shop.store_id, app=self.app):
            assert ledger.unbalanced_postings() == []
            assert db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))).scalar_one() == 0

    # -- HTTP ------------------------------------------------------------------------------
    def get(self, path: str, token: str) -> dict:
        from mallow.testing import bearer

        response = self.client.get(path, headers=bearer(token))
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_json()

    def post(self, path: str, token: str, body: dict, expect=(200,)) -> dict:
        from mallow.testing import bearer

        response = self.client.post(path, headers=bearer(token), json=body)
        assert response.status_code in expect, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_json()


class Person:
    def __init__(self, token: str, address: int, customer_id: int):
        self.token, self.address, self.customer_id = token, address, customer_id
        self.distributor_id: int | None = None
        self.code: str | None = None


@pytest.fixture
def mall(dist_app, shop, client, wechatpay):
    return Mall(dist_app, shop, client, wechatpay)


__all__ = ["Mall", "Person"]
