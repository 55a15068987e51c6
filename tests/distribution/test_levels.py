"""Who gets paid: at most two levels (the buyer's referrer and that referrer's referrer), never
the buyer, never twice, never for a third level — whatever the referral data looks like."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, enable_plugin, merchant_token


def _bind_directly(mall, customer_id: int, distributor_id: int) -> None:
    """Write a binding straight into the table, skipping every check (bad data, e.g. imported)."""
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_distribution.models import Binding

    with store_context(mall.shop.store_id, app=mall.app):
        row = db.session.execute(sa.select(Binding).where(Binding.customer_id == customer_id)).scalar_one_or_none()
        if row is None:
            db.session.add(Binding(customer_id=customer_id, distributor_id=distributor_id, source="import"))
        else:
            row.distributor_id = distributor_id
        db.session.commit()


def test_three_deep_chain_pays_only_two_levels(mall):
    # given: A referred B, B referred C, C referred the buyer; the store pays two levels
    mall.configure(levels=2, level1_rate_bp=1000, level2_rate_bp=500)
    sku = mall.product(price=20000)
    a = mall.distributor()
    b = mall.distributor(referred_by=a)
    c = mall.distributor(referred_by=b)
    buyer = mall.shopper()
    assert mall.bind(buyer, c) == {"bound": True, "reason": "bound"}
    # when
    order = mall.buy(buyer, sku)
    # then: C (level 1) and B (level 2) are paid, A is not
    assert mall.paid_to(order) == {c.distributor_id: 2000, b.distributor_id: 1000}
    assert sorted(row["level"] for row in mall.commissions(order)) == [1, 2]
    assert mall.balances(a)["pending"] == 0
    assert mall.balances(c)["pending"] == 2000 and mall.balances(b)["pending"] == 1000
    mall.check_books()


def test_one_level_by_default(mall):
    sku = mall.product(price=10000)
    a = mall.distributor()
    b = mall.distributor(referred_by=a)
    buyer = mall.shopper()
    mall.bind(buyer, b)
    order = mall.buy(buyer, sku)
    assert mall.paid_to(order) == {b.distributor_id: 1000}  # 10 %, and nobody above
    settings = mall.get(f"{mall.console_api}/settings", mall.mtoken)
    assert settings["settings"]["levels"] == 1 and settings["max_levels"] == 2


def test_five_deep_chain_pays_at_most_two_ancestors(mall):
    mall.configure(levels=2, level1_rate_bp=1000, level2_rate_bp=1000)
    sku = mall.product(price=10000)
    chain = [mall.distributor()]
    for _ in range(4):
        chain.append(mall.distributor(referred_by=chain[-1]))
    buyer = mall.shopper()
    mall.bind(buyer, chain[-1])
    order = mall.buy(buyer, sku)
    assert mall.paid_to(order) == {chain[-1].distributor_id: 1000, chain[-2].distributor_id: 1000}
    for person in chain[:-2]:
        assert mall.balances(person)["pending"] == 0


def test_level_three_is_refused_everywhere(mall, dist_app):
    from mallow.validation import ValidationFailed

    # the platform's enable path checks the manifest's schema
    with pytest.raises(ValidationFailed) as refused:
        enable_plugin(dist_app, mall.shop, "distribution", {"levels": 3})
    assert "levels" in refused.value.errors
    # the console API
    answer = mall.client.put(
        f"{mall.console_api}/settings",
        headers=bearer(mall.mtoken),
        json={
            "levels": 3,
            "level1_rate": "10",
            "level2_rate": "5",
            "binding_mode": "first_touch",
            "min_withdrawal": 1000,
        },
    )
    assert answer.status_code == 422
    assert answer.get_json()["fields"]["levels"]["code"] == "too_many_levels"
    # nothing changed
    assert mall.get(f"{mall.console_api}/settings", mall.mtoken)["settings"]["levels"] == 1


def test_a_stored_third_level_still_pays_two(mall):
    """Even if the stored settings said 3 (edited behind the platform's back), two levels at most."""
    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    mall.configure(levels=2, level1_rate_bp=1000, level2_rate_bp=500)
    with mall.app.app_context():
        row = db.session.execute(
            sa.select(StorePlugin).filter_by(store_id=mall.shop.store_id, name="distribution")
        ).scalar_one()
        row.settings = dict(row.settings, levels=3)
        db.session.commit()
    sku = mall.product(price=10000)
    a = mall.distributor()
    b = mall.distributor(referred_by=a)
    c = mall.distributor(referred_by=b)
    buyer = mall.shopper()
    mall.bind(buyer, c)
    order = mall.buy(buyer, sku)
    assert set(mall.paid_to(order)) == {c.distributor_id, b.distributor_id}


def test_self_referral_pays_nothing(mall):
    mall.configure(levels=2, level1_rate_bp=1000, level2_rate_bp=500)
    sku = mall.product(price=10000)
    me = mall.distributor()
    assert mall.bind(me, me) == {"bound": False, "reason": "self"}
    order = mall.buy(me, sku)
    assert mall.paid_to(order) == {}
    # bound to an upline, a distributor's own purchase pays the upline, never the buyer
    upline = mall.distributor()
    other = mall.distributor(referred_by=upline)
    order = mall.buy(other, sku)
    assert mall.paid_to(order) == {upline.distributor_id: 1000}


def test_cycles_are_refused_and_pay_nothing_extra(mall):
    mall.configure(levels=2, level1_rate_bp=1000, level2_rate_bp=500)
    sku = mall.product(price=10000)
    a = mall.distributor()
    b = mall.distributor(referred_by=a)
    c = mall.distributor(referred_by=b)
    # A binding to C (below A) would close a loop: refused
    assert mall.bind(a, c) == {"bound": False, "reason": "cycle"}
    assert mall.bind(a, b) == {"bound": False, "reason": "cycle"}

    # bad data with a loop anyway: A ← B ← C ← A
    _bind_directly(mall, a.customer_id, c.distributor_id)
    order = mall.buy(a, sku)  # A buys: C (level 1), B (level 2); never A itself
    assert mall.paid_to(order) == {c.distributor_id: 1000, b.distributor_id: 500}

    # a two-person loop: A ← B ← A. A buys: B once, and A is not paid as "level 2"
    _bind_directly(mall, a.customer_id, b.distributor_id)
    order = mall.buy(a, sku)
    assert mall.paid_to(order) == {b.distributor_id: 1000}

    # a self-binding in the data pays nothing
    _bind_directly(mall, c.customer_id, c.distributor_id)
    order = mall.buy(c, sku)
    assert mall.paid_to(order) == {}
    mall.check_books()


def test_rates_are_capped_and_checked(mall):
    # level 1 + level 2 above the platform cap (30 %) is refused
    answer = mall.client.put(
        f"{mall.console_api}/settings",
        headers=bearer(mall.mtoken),
        json={
            "levels": 2,
            "level1_rate": "25",
            "level2_rate": "10",
            "binding_mode": "first_touch",
            "min_withdrawal": 1000,
        },
    )
    assert answer.status_code == 422 and answer.get_json()["fields"]["level2_rate"]["code"] == "above_cap"
    # a grade and a product rule above the cap: refused too
    grade = mall.client.post(
        f"{mall.console_api}/grades", headers=bearer(mall.mtoken), json={"name": "金牌", "level1_rate": "31"}
    )
    assert grade.status_code == 422
    # rates that only add up above the cap at run time (product level 1 + grade level 2) are clamped
    mall.configure(levels=2, level1_rate_bp=1000, level2_rate_bp=500)
    sku = mall.product(price=10000)
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(mall.shop.store_id, app=mall.app):
        product_id = db.session.get(Sku, sku).product_id
    mall.post(f"{mall.console_api}/product-rules", mall.mtoken, {"product_id": product_id, "level1_rate": "25"})
    created = mall.post(f"{mall.console_api}/grades", mall.mtoken, {"name": "金牌", "level2_rate": "20"}, expect=(201,))
    a = mall.distributor()
    mall.post(f"{mall.console_api}/distributors/{a.distributor_id}/grade", mall.mtoken, {"grade_id": created["id"]})
    b = mall.distributor(referred_by=a)
    buyer = mall.shopper()
    mall.bind(buyer, b)
    order = mall.buy(buyer, sku)
    paid = mall.paid_to(order)
    assert paid == {b.distributor_id: 2500, a.distributor_id: 500}  # 25 % + (30 % − 25 %)
    assert sum(paid.values()) <= 10000 * 30 // 100


def test_rule_changes_are_audit_logged(mall, dist_app):
    from mallow.audit import AuditEntry
    from mallow.db import db

    mall.post(f"{mall.console_api}/grades", mall.mtoken, {"name": "银牌", "level1_rate": "12"}, expect=(201,))
    answer = mall.client.put(
        f"{mall.console_api}/settings",
        headers=bearer(mall.mtoken),
        json={
            "levels": 2,
            "level1_rate": "12.5",
            "level2_rate": "3",
            "binding_mode": "days",
            "binding_days": 15,
            "min_withdrawal": 2000,
            "auto_approve": True,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["settings"]["level1_rate_bp"] == 1250
    with dist_app.app_context():
        entries = (
            db.session.execute(
                sa.select(AuditEntry)
                .where(AuditEntry.store_id == mall.shop.store_id, AuditEntry.action.like("distribution.%"))
                .order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
    actions = [e.action for e in entries]
    assert "distribution.grade_saved" in actions and "distribution.settings_changed" in actions
    changed = next(e for e in entries if e.action == "distribution.settings_changed").detail["changed"]
    assert changed["levels"] == {"from": 1, "to": 2} and changed["level1_rate_bp"] == {"from": 1000, "to": 1250}
    assert all(e.actor_kind == "merchant" for e in entries)


def test_other_store_staff_cannot_touch_the_console_api(mall, dist_app, client):
    from mallow.testing import make_store

    other = make_store(dist_app)
    enable_plugin(dist_app, other, "distribution")
    intruder = merchant_token(client, other)
    assert client.get(f"{mall.console_api}/distributors", headers=bearer(intruder)).status_code == 403
    assert client.put(f"{mall.console_api}/settings", headers=bearer(intruder), json={"levels": 2}).status_code == 403
