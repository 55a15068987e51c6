"""A group's paid members hear how it ended in 我的 → 消息 (``mallow.sdk.notify``), once each, on
SQLite and PostgreSQL; a shopper who never paid hears nothing."""

from __future__ import annotations

from datetime import timedelta

from mallow.testing import bearer
from tests.groupbuy.conftest import now


def _messages(mall, person, event: str) -> list[dict]:
    listed = mall.get(f"{mall.shop.prefix}/api/me/notifications", person.token)
    return [item for item in listed["items"] if item["event"] == event]


def test_every_member_of_a_completed_group_gets_one_message(mall):
    # given a 3-person group filled by three paying shoppers
    [sku] = mall.product(price=10000, stock=20)
    campaign = mall.campaign([sku])
    leader, second, third = mall.shopper(), mall.shopper(), mall.shopper()
    group_id = mall.group_of(mall.buy(leader, sku, campaign))
    mall.buy(second, sku, campaign, group_id)
    mall.buy(third, sku, campaign, group_id)
    assert mall.group(group_id)["status"] == "succeeded"

    # when the sweep settles the group (and runs again)
    mall.sweep(now())
    mall.sweep(now() + timedelta(hours=2))

    # then each member has exactly one 拼团成功 message naming the product
    for person in (leader, second, third):
        [message] = _messages(mall, person, "group_succeeded")
        assert message["title"] == "拼团成功" and "拼团测试商品" in message["body"]
        assert not _messages(mall, person, "group_failed")


def test_every_paid_member_of_a_failed_group_gets_one_failed_message(mall):
    # given a group with two paid members and one who ordered but never paid
    [sku] = mall.product(price=8800, stock=10)
    campaign = mall.campaign([sku])
    leader, friend, slow = mall.shopper(), mall.shopper(), mall.shopper()
    group_id = mall.group_of(mall.buy(leader, sku, campaign))
    mall.buy(friend, sku, campaign, group_id)
    mall.order(slow, sku, campaign, group_id)

    # when the deadline passes (and the sweep runs twice)
    mall.sweep(now() + timedelta(hours=24, minutes=1))
    mall.sweep(now() + timedelta(hours=30))
    assert mall.group(group_id)["status"] == "failed"

    # then each paid member has exactly one 拼团未成功 message; the unpaid shopper has none
    for person in (leader, friend):
        [message] = _messages(mall, person, "group_failed")
        assert message["title"] == "拼团未成功" and "拼团测试商品" in message["body"]
        assert not _messages(mall, person, "group_succeeded")
    listed = mall.client.get(f"{mall.shop.prefix}/api/me/notifications", headers=bearer(slow.token)).get_json()
    assert not [item for item in listed["items"] if item["event"].startswith("group_")]
