"""The distribution plugin in a shopper's data rights: the export holds their distributor record,
commissions and withdrawals; deleting the account is refused while the store still owes them
commission, and once it is paid out, the deletion erases what they typed and the payout's
reference, retires their code (old links bind nobody) and keeps the books adding up."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import sqlalchemy as sa

from mallow.testing import PASSWORD, bearer


def _export(mall, person) -> dict:
    response = mall.client.get(f"{mall.shop.prefix}/api/me/export", headers=bearer(person.token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _delete(mall, person):
    return mall.client.post(
        f"{mall.shop.prefix}/api/me/delete",
        headers=bearer(person.token),
        json={"confirm": "注销", "password": PASSWORD},
    )


def _row(mall, distributor_id: int) -> dict:
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_distribution.models import Distributor, Withdrawal

    with store_context(mall.shop.store_id, app=mall.app):
        row = db.session.get(Distributor, distributor_id)
        references = db.session.execute(
            sa.select(Withdrawal.payout_reference).where(Withdrawal.distributor_id == distributor_id)
        ).scalars()
        return {"status": row.status, "code": row.code, "note": row.note, "references": sorted(references)}


def _settled_commission(mall, note: str):
    """A distributor (who applied with ``note``) with 10.00 withdrawable, earned on a referred
    buyer's paid and delivered order."""
    mall.configure(min_withdrawal=500)
    sku = mall.product(price=10000)
    promoter = mall.shopper()
    applied = mall.post(f"{mall.api}/apply", promoter.token, {"agree": True, "note": note}, expect=(200, 201))
    mall.post(f"{mall.console_api}/distributors/{applied['id']}/decision", mall.mtoken, {"approve": True})
    promoter.distributor_id, promoter.code = applied["id"], applied["code"]
    buyer = mall.shopper()
    assert mall.bind(buyer, promoter)["bound"]
    order = mall.buy(buyer, sku)
    return promoter, buyer, order


def test_deleting_is_refused_while_commission_is_owed_then_erases_once_paid_out(mall):
    note = "我叫陈思远，手机 13800138123，朋友圈推广"
    promoter, buyer, order = _settled_commission(mall, note)
    assert mall.balances(promoter)["pending"] == 1000

    # the export: what they typed, their commission and balances
    mine = _export(mall, promoter)["plugins"]["distribution"]
    assert mine["distributor"]["note"] == note and mine["distributor"]["status"] == "approved"
    assert mine["distributor"]["balances"]["pending"] == 1000
    assert [(c["order_number"], c["amount"], c["status"]) for c in mine["commissions"]] == [
        (order["number"], 1000, "pending")
    ]
    # the buyer's export says who referred them (not who the referrer is) and nothing of the referrer
    theirs = _export(mall, buyer)["plugins"]["distribution"]
    assert theirs["referred"]["source"] == "api" and "distributor" not in theirs

    # owed commission refuses the deletion, saying how much, and nothing changes
    refused = _delete(mall, promoter)
    assert refused.status_code == 409
    body = refused.get_json()
    assert [(b["code"], b["plugin"]) for b in body["blockers"]] == [("plugin", "distribution")]
    assert "10.00" in body["blockers"][0]["message"]
    assert mall.client.get(f"{mall.shop.prefix}/api/me", headers=bearer(promoter.token)).status_code == 200
    assert _row(mall, promoter.distributor_id)["note"] == note

    # delivered, settled, withdrawn and paid out: nothing owed any more
    mall.deliver(buyer, order)
    mall.settle(datetime.now(UTC))
    mall.settle(datetime.now(UTC) + timedelta(days=8))
    withdrawal = mall.post(f"{mall.api}/withdrawals", promoter.token, {"amount": 1000}, expect=(201,))
    mall.post(
        f"{mall.console_api}/withdrawals/{withdrawal['id']}/decision",
        mall.mtoken,
        {"approve": True, "payout_method": "alipay", "payout_reference": "ALI-13800138123"},
    )
    exported = _export(mall, promoter)["plugins"]["distribution"]
    assert [(w["amount"], w["payout_reference"]) for w in exported["withdrawals"]] == [(1000, "ALI-13800138123")]
    old_code = promoter.code

    deleted = _delete(mall, promoter)
    assert deleted.status_code == 200, deleted.get_json()
    row = _row(mall, promoter.distributor_id)
    assert row["note"] == "" and row["status"] == "suspended" and row["code"] != old_code
    assert row["references"] == ["***"]
    # their old code binds nobody now, and the shopper they referred is free to be referred again
    newcomer = mall.shopper()
    bound = mall.client.post(f"{mall.api}/bind", headers=bearer(newcomer.token), json={"code": old_code})
    assert bound.status_code != 200 or not bound.get_json().get("bound")
    assert "referred" not in (_export(mall, buyer)["plugins"].get("distribution") or {})
    # the books still add up, the commission is still the store's record
    mall.check_books()
    assert [(c["amount"], c["status"]) for c in mall.commissions(order)] == [(1000, "settled")]


def test_the_storefront_page_says_why_the_plugin_refuses(mall):
    from mallow.testing import post_form

    promoter, _buyer, _order = _settled_commission(mall, "")
    browser = mall.app.test_client()
    signed_in = post_form(
        browser,
        f"{mall.shop.prefix}/login",
        {"login": _login_of(mall, promoter), "password": PASSWORD},
    )
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[:300]
    page = post_form(browser, f"{mall.shop.prefix}/account/delete", {"confirm": "注销", "password": PASSWORD})
    assert page.status_code == 409
    text = page.get_data(as_text=True)
    assert 'data-code="plugin"' in text and "10.00" in text


def _login_of(mall, person) -> str:
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    with store_context(mall.shop.store_id, app=mall.app):
        return crypto.decrypt(db.session.get(Customer, person.customer_id).login_cipher)
