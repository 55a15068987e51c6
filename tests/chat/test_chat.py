"""客服: a shopper and the store's staff talk; unread counts, assignment, closing, the automatic
answers (service hours, keywords, nobody answering), authorization across shoppers and stores,
escaping, the length cap and the send rate limit. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mallow.testing import bearer, make_store, merchant_token, post_form

from .conftest import answer, conversations, new_shopper, say


def _conversation(app, desk) -> dict:
    [found] = conversations(app.test_client(), desk.shop, desk.token)
    return found


def test_a_shopper_asks_and_the_staff_answers(app, shop, desk, shopper):
    sent = say(shopper, shop, "请问山核桃什么时候发货？")
    assert [m["sender"] for m in sent] == ["shopper"] and sent[0]["mine"] is True

    # the console lists it, unread, with the shopper's text; the nav shows the count
    listed = _conversation(app, desk)
    assert (listed["status"], listed["staff_unread"], listed["last_text"]) == ("open", 1, "请问山核桃什么时候发货？")
    page = desk.client.get(f"{shop.prefix}/console/chat").get_data(as_text=True)
    assert 'id="nav-chat-unread">1</span>' in page and "请问山核桃什么时候发货？" in page

    # opening it reads it; answering takes it
    assert desk.client.get(f"{shop.prefix}/console/chat/{listed['id']}").status_code == 200
    answer(desk, listed["id"], "今天下午发出，顺丰包邮。")
    after = _conversation(app, desk)
    assert (after["status"], after["staff_unread"], after["shopper_unread"]) == ("assigned", 0, 1)

    # the shopper's page shows the answer, and reading it clears their unread count
    page = shopper.client.get(f"{shop.prefix}/chat")
    assert page.status_code == 200 and "今天下午发出，顺丰包邮。" in page.get_data(as_text=True)
    assert _conversation(app, desk)["shopper_unread"] == 0


def test_the_api_sends_lists_and_marks_read(app, shop, desk, shopper):
    client = app.test_client()
    [mine] = conversations(client, shop, shopper.token)
    url = f"{shop.prefix}/api/chat/conversations/{mine['id']}"
    sent = client.post(f"{url}/messages", headers=bearer(shopper.token), json={"text": "在吗"})
    assert sent.status_code == 201, sent.get_json()
    first = sent.get_json()["messages"][0]["id"]
    staff = client.post(f"{url}/messages", headers=bearer(desk.token), json={"text": "在的，请讲"})
    assert staff.status_code == 201 and staff.get_json()["messages"][0]["sender"] == "staff"

    listed = client.get(f"{url}/messages", headers=bearer(shopper.token), query_string={"after": first})
    assert [m["text"] for m in listed.get_json()["messages"]] == ["在的，请讲"]
    oldest = client.get(f"{url}/messages", headers=bearer(shopper.token)).get_json()["messages"][0]
    assert oldest["text"] == "在吗" and datetime.fromisoformat(oldest["created_at"]).utcoffset() is not None
    read = client.post(f"{url}/read", headers=bearer(shopper.token))
    assert read.status_code == 200 and read.get_json()["shopper_unread"] == 0
    assert client.get(f"{url}/messages", query_string={"after": "x"}, headers=bearer(desk.token)).status_code == 400
    assert client.get(f"{url}/messages").status_code == 401


def test_another_shopper_and_another_store_see_nothing(app, shop, desk, shopper):
    say(shopper, shop, "我的地址是临安区锦城街道")
    conversation_id = _conversation(app, desk)["id"]
    client = app.test_client()
    url = f"{shop.prefix}/api/chat/conversations/{conversation_id}"

    stranger = new_shopper(app, shop)
    assert client.get(f"{url}/messages", headers=bearer(stranger.token)).status_code == 404
    assert client.post(f"{url}/messages", headers=bearer(stranger.token), json={"text": "hi"}).status_code == 404
    assert client.post(f"{url}/read", headers=bearer(stranger.token)).status_code == 404
    # the stranger's own page shows only their own (empty) conversation
    assert "锦城街道" not in stranger.client.get(f"{shop.prefix}/chat").get_data(as_text=True)

    other = make_store(app)
    other_token = merchant_token(app.test_client(), other)
    assert client.get(f"{url}/messages", headers=bearer(other_token)).status_code in (403, 404)
    # the other store's staff, in their own store: the id is not a conversation there
    other_url = f"{other.prefix}/api/chat/conversations/{conversation_id}"
    assert client.get(f"{other_url}/messages", headers=bearer(other_token)).status_code == 404
    assert (
        client.put(
            f"{other.prefix}/api/console/chat/conversations/{conversation_id}/assignee",
            headers=bearer(other_token),
            json={"staff_id": None},
        ).status_code
        == 404
    )
    # a shopper's token of this store on the other store, and a shopper on the console
    assert client.get(f"{other.prefix}/api/chat/conversations", headers=bearer(shopper.token)).status_code == 401
    assert shopper.client.get(f"{shop.prefix}/console/chat/{conversation_id}").status_code in (302, 303, 403)
    other_desk = app.test_client()
    post_form(other_desk, "/merchant/login", {"email": other.email, "password": other.password})
    assert other_desk.get(f"{shop.prefix}/console/chat/{conversation_id}").status_code == 403
    assert other_desk.get(f"{other.prefix}/console/chat/{conversation_id}").status_code == 404


def test_a_guest_is_asked_to_sign_in_and_comes_back(app, shop):
    response = app.test_client().get(f"{shop.prefix}/chat?order=X1")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"] and "next=" in response.headers["Location"]


def test_text_is_escaped_capped_and_cleaned(app, shop, desk, shopper):
    say(shopper, shop, '<script>alert("x")</script><b>粗体</b>')
    page = desk.client.get(f"{shop.prefix}/console/chat/{_conversation(app, desk)['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page and "<b>粗体</b>" not in page
    mine = shopper.client.get(f"{shop.prefix}/chat").get_data(as_text=True)
    assert "&lt;b&gt;粗体&lt;/b&gt;" in mine and '<script>alert("x")' not in mine

    too_long = say(shopper, shop, "长" * 501, expect=422)
    assert "text" in too_long["fields"]
    assert say(shopper, shop, " \u0000\u200b\n ", expect=422)["fields"]["text"]["code"] == "required"
    blank = say(shopper, shop, "   ", expect=422)
    assert blank["fields"]["text"]["code"] == "required"
    # without script: the form answers the page again with the error
    from mallow.testing.http import csrf_token

    plain = shopper.client.post(
        f"{shop.prefix}/chat", data={"text": "", "csrf_token": csrf_token(shopper.client, f"{shop.prefix}/chat")}
    )
    assert plain.status_code == 422 and 'id="chat-error"' in plain.get_data(as_text=True)
    # a form post without its CSRF token is refused
    assert shopper.client.post(f"{shop.prefix}/chat", data={"text": "hi"}).status_code == 400


def test_sending_is_rate_limited_per_shopper(app, shop, shopper, monkeypatch):
    monkeypatch.setitem(app.config, "CHAT_RATE_LIMIT", "3 per minute")
    for n in range(3):
        say(shopper, shop, f"第 {n} 条")
    assert say(shopper, shop, "第 4 条", expect=429)
    # another shopper is not held back by the first
    say(new_shopper(app, shop), shop, "我也问一下")


def test_an_order_card_from_the_order_page(app, shop, desk, shopper):
    from mallow.testing import make_product
    from mallow.testing.payments import place_order

    [sku] = make_product(app, shop, title="纸皮山核桃", price=6800)
    address = (
        app.test_client()
        .post(
            f"{shop.prefix}/api/addresses",
            headers=bearer(shopper.token),
            json={
                "recipient": "李四",
                "phone": "13912345678",
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "detail": "文三路 100 号",
            },
        )
        .get_json()["id"]
    )
    order = place_order(app.test_client(), shop, shopper.token, address, sku)
    page = shopper.client.get(f"{shop.prefix}/chat?order={order['number']}").get_data(as_text=True)
    assert f'name="order" value="{order["number"]}"' in page
    sent = say(shopper, shop, "这个订单能改地址吗", order=order["number"])
    assert sent[0]["order"]["number"] == order["number"] and sent[0]["order"]["total_fen"] == order["total"]
    # the console shows the card and the shopper's recent orders beside the conversation
    console = desk.client.get(f"{shop.prefix}/console/chat/{_conversation(app, desk)['id']}").get_data(as_text=True)
    assert console.count(order["number"]) >= 2 and f"/console/orders/{order['id']}" in console
    # someone else's order number is a field error, and the stranger's page shows no card
    stranger = new_shopper(app, shop)
    assert say(stranger, shop, "看看", order=order["number"], expect=422)["fields"]["order"]["code"] == "not_found"
    shown = stranger.client.get(f"{shop.prefix}/chat?order={order['number']}").get_data(as_text=True)
    assert 'id="chat-order-card"' not in shown and f'value="{order["number"]}"' not in shown


def test_assignment_take_assign_close_and_reopen(app, shop, desk, shopper):
    client = app.test_client()
    say(shopper, shop, "你好")
    conversation = _conversation(app, desk)
    assert [c["id"] for c in conversations(client, shop, desk.token, which="unassigned")] == [conversation["id"]]
    assert conversations(client, shop, desk.token, which="mine") == []

    # a colleague joins the team
    added = client.post(
        f"{shop.prefix}/api/console/staff",
        headers=bearer(desk.token),
        json={"email": f"colleague-{shop.slug}@example.com", "name": "小王", "password": "colleague-pass-123"},
    )
    assert added.status_code == 201, added.get_json()
    colleague = added.get_json()["id"]

    base = f"{shop.prefix}/console/chat/{conversation['id']}"
    assert post_form(desk.client, f"{base}/take", {}, form_path=base).status_code == 303
    assert [c["id"] for c in conversations(client, shop, desk.token, which="mine")] == [conversation["id"]]
    assert post_form(desk.client, f"{base}/assign", {"staff_id": colleague}, form_path=base).status_code == 303
    assert _conversation(app, desk)["staff_id"] == colleague
    assert conversations(client, shop, desk.token, which="mine") == []
    assert post_form(desk.client, f"{base}/assign", {"staff_id": "999999"}, form_path=base).status_code == 422

    api = f"{shop.prefix}/api/console/chat/conversations/{conversation['id']}/assignee"
    back = client.put(api, headers=bearer(desk.token), json={"staff_id": None})
    assert back.status_code == 200 and (back.get_json()["staff_id"], back.get_json()["status"]) == (None, "open")
    assert client.put(api, headers=bearer(desk.token), json={"staff_id": 999999}).status_code == 422

    assert post_form(desk.client, f"{base}/close", {}, form_path=base).status_code == 303
    assert _conversation(app, desk)["status"] == "closed"
    assert conversations(client, shop, desk.token, which="unassigned") == []
    say(shopper, shop, "还在吗")  # a new message opens it again
    assert _conversation(app, desk)["status"] == "open"


def test_unread_first_in_the_console_list(app, shop, desk):
    first, second = new_shopper(app, shop), new_shopper(app, shop)
    say(first, shop, "第一位")
    say(second, shop, "第二位")
    [newest, older] = conversations(app.test_client(), shop, desk.token)
    assert (newest["last_text"], older["last_text"]) == ("第二位", "第一位")
    desk.client.get(f"{shop.prefix}/console/chat/{newest['id']}")  # read the newest one
    listed = conversations(app.test_client(), shop, desk.token)
    assert [c["last_text"] for c in listed] == ["第一位", "第二位"]  # the unread one first
    assert desk.client.get(f"{shop.prefix}/console/chat/unread").get_json() == {"unread": 1}


def _settings(desk, **fields):
    form = {
        "hours_start": "09:00",
        "hours_end": "21:00",
        "away_text": "",
        "no_answer_minutes": "0",
        "no_answer_text": "",
        "keywords": "",
        "quick_replies": "",
    }
    form.update(fields)
    return post_form(desk.client, f"{desk.shop.prefix}/console/chat/settings", form)


def test_keyword_and_service_hours_auto_replies(app, shop, desk, shopper):
    saved = _settings(
        desk,
        keywords="发货 = 下单后 48 小时内发货，默认顺丰。\n退货 = 七天无理由退货，请在订单页申请。",
        quick_replies="您好，在的！\n已为您备注",
    )
    assert saved.status_code == 303
    sent = say(shopper, shop, "什么时候发货呀")
    assert [(m["sender"], m["auto"]) for m in sent] == [("shopper", None), ("auto", "keyword")]
    assert sent[1]["text"] == "下单后 48 小时内发货，默认顺丰。"
    assert [m["sender"] for m in say(shopper, shop, "谢谢")] == ["shopper"]

    # outside the hours (a window that is never now): the away text, once in 30 minutes
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (local + timedelta(hours=2)).strftime("%H:00"), (local + timedelta(hours=3)).strftime("%H:00")
    hours = {"hours_enabled": "1", "hours_start": start, "hours_end": end, "away_text": "本店客服时间外"}
    assert _settings(desk, quick_replies="您好，在的！\n已为您备注", **hours).status_code == 303
    away = say(shopper, shop, "有人吗")
    assert [(m["sender"], m["auto"], m["text"]) for m in away[1:]] == [("auto", "hours", "本店客服时间外")]
    assert len(say(shopper, shop, "有人吗？？")) == 1  # not again so soon

    # the console shows the quick replies; bad settings are field errors
    page = desk.client.get(f"{shop.prefix}/console/chat/{_conversation(app, desk)['id']}").get_data(as_text=True)
    assert "已为您备注" in page
    bad = _settings(desk, hours_start="25:00", no_answer_minutes="abc", keywords="只有关键词")
    assert bad.status_code == 422
    assert bad.get_data(as_text=True).count('class="error"') >= 3


def test_no_answer_auto_reply_once(app, shop, desk, shopper):
    from mallow.chat import service
    from mallow.tenants.context import store_context

    assert _settings(desk, no_answer_minutes="5", no_answer_text="客服忙，请稍候").status_code == 303
    say(shopper, shop, "急！")
    later = datetime.now(UTC) + timedelta(minutes=6)
    with store_context(shop.store_id, app=app):
        assert service.answer_unanswered(datetime.now(UTC)) == 0  # not yet
        assert service.answer_unanswered(later) == 1
        service.commit()
        assert service.answer_unanswered(later + timedelta(minutes=10)) == 0  # once per wait
    texts = [m["text"] for m in _messages(app, shop, shopper)]
    assert texts == ["急！", "客服忙，请稍候"]
    # a staff answer ends a wait: the next message waits afresh
    answer(desk, _conversation(app, desk)["id"], "来了")
    with store_context(shop.store_id, app=app):
        assert service.answer_unanswered(later + timedelta(minutes=30)) == 0


def _messages(app, shop, shopper) -> list[dict]:
    client = app.test_client()
    [mine] = conversations(client, shop, shopper.token)
    response = client.get(f"{shop.prefix}/api/chat/conversations/{mine['id']}/messages", headers=bearer(shopper.token))
    return response.get_json()["messages"]


@pytest.mark.parametrize("which", ["bogus"])
def test_bad_filters_are_400(app, shop, desk, which):
    assert desk.client.get(f"{shop.prefix}/console/chat?which={which}").status_code == 400
    response = app.test_client().get(
        f"{shop.prefix}/api/chat/conversations", headers=bearer(desk.token), query_string={"which": which}
    )
    assert response.status_code == 400 and "fields" in response.get_json()
