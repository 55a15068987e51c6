"""The chat's store-API operations declare what they take: a shopper's token or a staff member's
(OpenAPI ``security``: either scheme), and answer as declared: no token → 401, both tokens work."""

from __future__ import annotations

from mallow.testing import bearer, make_shopper, make_store, merchant_token

CHAT_OPERATIONS = {"listConversations", "sendChatMessage", "listChatMessages", "markConversationRead"}


def test_the_chat_operations_declare_either_token(client):
    doc = client.get("/api/openapi.json").get_json()
    found = {
        op["operationId"]: op
        for item in doc["paths"].values()
        for op in item.values()
        if op["operationId"] in CHAT_OPERATIONS
    }
    assert set(found) == CHAT_OPERATIONS
    for op in found.values():
        assert op["security"] == [{"shopperToken": []}, {"merchantToken": []}]
        assert {"401", "403", "404"} <= set(op["responses"])
    assert {"shopperToken", "merchantToken"} <= set(doc["components"]["securitySchemes"])


def test_either_token_is_taken_and_none_is_refused(app):
    client = app.test_client()
    shop = make_store(app)
    shopper, _address = make_shopper(client, shop)
    staff = merchant_token(client, shop)
    base = f"{shop.prefix}/api/chat/conversations"

    refused = client.get(base)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    [mine] = client.get(base, headers=bearer(shopper)).get_json()["conversations"]
    sent = client.post(f"{base}/{mine['id']}/messages", headers=bearer(shopper), json={"text": "在吗？"})
    assert sent.status_code == 201
    listed = client.get(base, headers=bearer(staff)).get_json()["conversations"]
    assert [c["id"] for c in listed] == [mine["id"]]
    answered = client.post(f"{base}/{mine['id']}/messages", headers=bearer(staff), json={"text": "在的"})
    assert answered.status_code == 201
    assert client.post(f"{base}/{mine['id']}/read").status_code == 401
