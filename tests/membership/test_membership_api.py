"""The membership over HTTP: getMyMembership and listMyPoints for the shopper (theirs only), the
console's programme and levels (checked, screened, the store's staff only), a coupon on top of the
member price, the data export and the account's deletion."""

from __future__ import annotations

import pytest

from mallow.testing import bearer, make_store

from .conftest import Mall, adds_up, in_store, points_adjustments


@pytest.fixture
def mall(app):
    return Mall(app, make_store(app))


def test_get_my_membership_and_list_my_points_need_a_shopper_and_show_only_theirs(mall):
    buyer, other = mall.shopper(), mall.shopper()
    mall.adjust(buyer, 70, "欢迎")
    prefix = mall.shop.prefix
    assert mall.client.get(f"{prefix}/api/membership").status_code == 401
    assert mall.client.get(f"{prefix}/api/membership/points").status_code == 401
    shown = mall.membership(buyer)
    assert shown["enabled"] is True and shown["points"] == 70 and shown["points_per_yuan"] == 100
    assert mall.membership(other)["points"] == 0
    assert mall.ledger(other)["items"] == [] and mall.ledger(buyer)["items"][0]["reason"] == "欢迎"
    bad = mall.client.get(f"{prefix}/api/membership/points?page=0", headers=bearer(buyer.token))
    assert bad.status_code == 400


def test_the_programme_is_checked_field_by_field_and_kept(mall):
    refused = mall.program(expect=422, redeem_cap_percent=0, level_basis="age")
    assert set(refused["fields"]) >= {"redeem_cap_percent", "level_basis"}
    assert mall.call("GET", f"{mall.console}/program")["redeem_cap_percent"] == 50  # nothing written
    kept = mall.program(points_per_yuan=50, validity_days=0)
    assert kept["points_per_yuan"] == 50 and kept["validity_days"] == 0 and kept["enabled"] is True
    assert mall.call("GET", f"{mall.console}/program") == kept


def test_levels_are_checked_and_screened(mall):
    mall.level(name="金卡", threshold=100)
    taken = mall.level(name="银卡", threshold=100, expect=422)
    assert taken["fields"]["threshold"]["code"] == "taken"
    assert mall.level(name="x" * 21, threshold=5, expect=422)["fields"]["name"]
    assert mall.level(name="银卡", threshold=5, discount_percent=40, expect=422)["fields"]["discount_percent"]
    assert mall.level(name="银卡", threshold=5, birthday_coupon_id=999999, expect=422)["fields"]["birthday_coupon_id"]
    screened = mall.level(name="最好的会员", threshold=5, expect=422)
    assert screened["fields"]["name"]["code"] == "prohibited_term"
    levels = mall.call("GET", f"{mall.console}/levels")
    assert [level["name"] for level in levels] == ["金卡"]
    changed = mall.call("PATCH", f"{mall.console}/levels/{levels[0]['id']}", body={"discount_percent": 88})
    assert changed["discount_percent"] == 88 and changed["threshold"] == 100
    mall.call("PATCH", f"{mall.console}/levels/999999", body={"discount_percent": 90}, expect=404)


def test_another_stores_merchant_and_shoppers_cannot_touch_the_console(mall):
    stranger = Mall(mall.app, make_store(mall.app))
    response = mall.client.get(f"{mall.console}/program", headers=bearer(stranger.mtoken))
    assert response.status_code == 403
    buyer = mall.shopper()
    response = mall.client.get(f"{mall.console}/levels", headers=bearer(buyer.token))
    assert response.status_code in (401, 403)


def test_the_member_sees_a_member_in_the_console(mall):
    buyer = mall.shopper()
    mall.adjust(buyer, 30)
    found = mall.call("GET", f"{mall.console}/members/{buyer.id}")
    assert found["membership"]["points"] == 30 and found["ledger"]["total"] == 1


def test_points_on_an_order_with_a_coupon_come_after_the_coupon(mall):
    buyer = mall.shopper()
    mall.adjust(buyer, 100_000)
    coupon = mall.call(
        "POST",
        f"{mall.shop.prefix}/api/console/coupons",
        body={
            "name": "立减10元",
            "kind": "no_threshold",
            "amount_fen": 1000,
            "total_quantity": 10,
            "status": "active",
            "validity": "days_after_claim",
            "valid_days": 3,
        },
        expect=201,
    )
    held = mall.call("POST", f"{mall.shop.prefix}/api/coupons/{coupon['id']}/claim", buyer.token, expect=201)
    sku = mall.product(price=5000)
    placed = mall.order(buyer, [(sku, 1)], {"coupon": held["id"], "points": "max"})
    # the cap is half of what is left after the coupon: (5000 - 1000) / 2
    assert points_adjustments(placed) == [("points:2000", -2000)]
    assert placed["total"] == 5000 - 1000 - 2000 and adds_up(placed)
    assert [a["stage"] for a in placed["adjustments"]] == ["coupon", "points"]


def test_a_coupon_still_applies_on_top_of_the_member_price(mall):
    mall.level(name="金卡", threshold=0, discount_percent=90)
    buyer = mall.shopper()
    coupon = mall.call(
        "POST",
        f"{mall.shop.prefix}/api/console/coupons",
        body={
            "name": "立减5元",
            "kind": "no_threshold",
            "amount_fen": 500,
            "total_quantity": 10,
            "status": "active",
            "validity": "days_after_claim",
            "valid_days": 3,
        },
        expect=201,
    )
    held = mall.call("POST", f"{mall.shop.prefix}/api/coupons/{coupon['id']}/claim", buyer.token, expect=201)
    sku = mall.product(price=5000)
    quoted = mall.quote(buyer, [(sku, 1)], {"coupon": held["id"]})
    assert quoted["problems"] == [] and quoted["total"] == 4500 - 500


def test_the_export_holds_the_membership_and_deletion_clears_the_birthday(mall):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.membership import privacy
    from mallow.membership.models import Member, PointEntry

    buyer = mall.shopper()
    mall.adjust(buyer, 40, "补偿")
    mall.call("PUT", f"{mall.shop.prefix}/api/membership/birthday", buyer.token, {"birthday": "1990-05-20"})
    exported = mall.call("GET", f"{mall.shop.prefix}/api/me/export", buyer.token)
    found = exported["membership"]
    assert found["member"] == {"points": 40, "growth": 0, "level": None, "birthday": "1990-05-20"}
    assert [(e["kind"], e["points"], e["reason"]) for e in found["ledger"]] == [("adjust", 40, "补偿")]

    def erase():
        changed = privacy.erase(db.session.get(Customer, buyer.id))
        db.session.commit()
        member = db.session.get(Member, buyer.id)
        entries = db.session.execute(db.select(PointEntry).where(PointEntry.customer_id == buyer.id)).scalars().all()
        return changed, member.birthday, len(entries)

    assert in_store(mall.app, mall.shop, erase) == (1, None, 1)
