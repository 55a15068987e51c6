"""What bench/cluster.py seeds before the load, through Mallow's own command and test kit: the demo
store (``mallow demo``: its catalogue, the bundled plugins), more stores signed up and approved
(``mallow.testing.make_store``) with the demo catalogue (``mallow.demo.seed_catalogue``) and the
flash-sale plugin on; then in every store, through its APIs: stock that cannot run out on the SKUs
orders use, one flash sale of ``units`` units on a SKU of its own, the flash-sale plugin's attempt
limits raised (every request comes from one address), and shoppers with bearer tokens and
addresses (``common.make_shoppers``).

And what it reads back afterwards for the checks (:func:`books`): every order the load placed
(by its ``Idempotency-Key``), its status and payments, and what each flash sale sold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import common
import http_tools

BIG_STOCK = 900_000_000
KEY_PREFIX = "cluster-"  # every order the load places carries an Idempotency-Key starting so


def call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    """http_tools' JSON request, with a longer wait: seeding runs while the nodes warm up."""
    return http_tools.call(url, method, body, token, timeout=60)


def extra_stores(app, count: int, pod: str | None = None) -> list[str]:
    """``count`` more open stores (``cluster-1`` …): signed up and approved, the demo catalogue,
    the flash-sale plugin on. With ``pod`` (a pod added with ``mallow pod add``, with more room than
    ``main``), the odd ones are placed there by the platform's own placement and the even ones on
    ``main`` (the pod drained while they sign up). Returns their slugs."""
    from mallow.db import db
    from mallow.demo import seed_catalogue
    from mallow.plugin_host import switches
    from mallow.tenants.context import store_context
    from mallow.testing import make_store

    slugs = []
    for n in range(1, count + 1):
        if pod:
            from mallow.tenants import pods

            with app.app_context():
                pods.set_state(pod, "open" if n % 2 else "draining")
                db.session.remove()
        shop = make_store(app, slug=f"cluster-{n}", category="farm_produce")
        with store_context(shop.store_id, app=app):
            seed_catalogue()
            db.session.commit()
        with app.app_context():
            switches.switch_on("flashsale", shop.slug, "bench/cluster.py")
            db.session.remove()
        slugs.append(shop.slug)
    if pod:
        from mallow.tenants import pods

        with app.app_context():
            pods.set_state(pod, "open")
            db.session.remove()
    return slugs


def pods_of(app, slugs: list[str]) -> dict[str, str]:
    """slug → the pod its schema is on (``main``: the platform's database)."""
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        rows = db.session.execute(db.select(Store).where(Store.slug.in_(slugs))).scalars().all()
        found = {store.slug: getattr(store, "pod", None) or "main" for store in rows}
        db.session.remove()
    return found


class Store:
    """One store as the load uses it: pages, SKUs, a flash sale, shoppers."""

    def __init__(self, base: str, slug: str, merchant_email: str, password: str):
        self.slug, self.prefix = slug, f"/s/{slug}"
        store = f"{base}/s/{slug}"
        self.merchant = call(
            f"{base}/api/tokens", "POST", {"email": merchant_email, "password": password, "store": slug}
        )["token"]
        products = call(f"{store}/api/products")["items"]
        self.products = [p["id"] for p in products]
        skus = [call(f"{store}/api/products/{p}")["skus"] for p in self.products]
        categories = call(f"{store}/api/categories")["items"]
        self.categories = [c["id"] for c in categories]
        sales = call(f"{store}/api/x/flashsale/sales")["items"]
        in_sales = {item["sku_id"] for sale in sales for item in sale["items"]}
        free = [s for each in skus for s in each if s["id"] not in in_sales]
        self.order_skus = [s["id"] for s in free[:3]]
        self.cart_skus = [s["id"] for s in free[3:6]]
        self.flash_sku = free[-1]
        stock = [{"sku_id": s, "stock": BIG_STOCK} for s in [*self.order_skus, *self.cart_skus, self.flash_sku["id"]]]
        call(f"{store}/api/console/skus/bulk", "POST", {"items": stock}, self.merchant)
        limits = {"unpaid_minutes": 30, "shopper_attempts_per_minute": 600, "ip_attempts_per_minute": 1_000_000}
        call(f"{store}/api/console/plugins/flashsale/settings", "PUT", {"settings": limits}, self.merchant)
        self.store_url = store
        self.sale = 0
        self.units = 0
        self.shoppers: list[tuple[str, int]] = []
        self.store_id = 0

    def new_sale(self, units: int) -> None:
        now = datetime.now(UTC)
        body = {
            "title": "压测秒杀",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "published": True,
            "items": [
                {"sku_id": self.flash_sku["id"], "sale_price": max(1, self.flash_sku["price"] // 2), "quota": units}
            ],
        }
        self.sale = call(f"{self.store_url}/api/console/x/flashsale/sales", "POST", body, self.merchant)["id"]
        self.units = units

    def sold(self) -> int:
        sale = call(f"{self.store_url}/api/console/x/flashsale/sales/{self.sale}", token=self.merchant)
        return int(sale["items"][0]["sold"])

    def as_json(self) -> dict:
        return {
            "slug": self.slug,
            "sale": self.sale,
            "units": self.units,
            "shoppers": len(self.shoppers),
            "products": len(self.products),
        }


def prepare_stores(app, base: str, slugs: dict[str, tuple[str, str]], units: int, shoppers: int) -> list[Store]:
    """Every store of ``slugs`` (slug → merchant e-mail, password) ready for the load, through the
    proxy at ``base``: stock, a new flash sale of ``units`` units, ``shoppers`` shoppers each."""
    import http_setup

    stores = []
    for slug, (email, password) in slugs.items():
        store = Store(base, slug, email, password)
        store.new_sale(units)
        store.store_id = http_setup.store_id(app, slug)
        store.shoppers = common.make_shoppers(app, store.store_id, shoppers)
        stores.append(store)
    return stores


def books(app, store: Store) -> dict:
    """What the store's database says about the load: the orders it placed (key → id, status;
    a key with more than one order is a duplicate), the payments, the flash SKU's orders."""
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.orders.models import Order, OrderLine
    from mallow.payments.models import Payment
    from mallow.tenants.context import store_context

    with store_context(store.store_id, app=app):
        rows = db.session.execute(
            sa.select(Order.id, Order.idempotency_key, Order.status, Order.customer_id).where(
                Order.idempotency_key.like(f"{KEY_PREFIX}%")
            )
        ).all()
        paid = dict(
            db.session.execute(
                sa.select(Payment.order_id, sa.func.count()).where(Payment.status == "paid").group_by(Payment.order_id)
            ).all()
        )
        flash_orders = db.session.execute(
            sa.select(sa.func.count(sa.distinct(OrderLine.order_id))).where(OrderLine.sku_id == store.flash_sku["id"])
        ).scalar_one()
        db.session.rollback()
    by_key: dict[str, list[int]] = {}
    for row in rows:
        by_key.setdefault(row.idempotency_key, []).append(row.id)
    return {
        "orders": {row.id: row.status for row in rows},
        "by_key": by_key,
        "paid_payments": {int(k): int(v) for k, v in paid.items()},
        "flash_orders": int(flash_orders),
    }
