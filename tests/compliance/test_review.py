"""Appeal and review: the merchant accepts or appeals, the platform admin upholds or overturns,
every move is in the audit log; admins edit the term list and the next save uses it; one
store never sees or touches another's findings."""

from __future__ import annotations

import re

import sqlalchemy as sa
from mallow.testing import csrf_token, login_admin, post_form


def _finding_ids(html: str, term: str) -> list[int]:
    return [
        int(i)
        for i in re.findall(r'data-finding-id="(\d+)" data-status="[a-z]+" data-term="' + re.escape(term) + '"', html)
    ]


def _audit(app, action: str, target: str) -> list:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target == target)
            ).scalars()
        )


def _status(app, finding_id: int) -> str:
    from mallow.compliance.findings import Finding
    from mallow.db import db

    with app.app_context():
        return db.session.get(Finding, finding_id).status


def _admin(app, admin_email):
    client = app.test_client()
    login_admin(client, admin_email)
    return client


def test_appeal_overturned_keeps_the_term_allowed(app, general, admin_email):
    product = general.create_product("极品 乌龙茶").get_json()
    [finding_id] = _finding_ids(general.findings_page(), "极品")
    base = f"{general.shop.prefix}/console/compliance"
    empty = post_form(general.client, f"{base}/{finding_id}/appeal", {"appeal_reason": " "}, form_path=f"{base}/")
    assert empty.status_code == 422 and f'data-field="appeal_reason.{finding_id}"' in empty.get_data(as_text=True)
    appealed = post_form(
        general.client,
        f"{base}/{finding_id}/appeal",
        {"appeal_reason": "「极品」是注册商标，注册号 12345678"},
        form_path=f"{base}/",
    )
    assert appealed.status_code == 303 and _status(app, finding_id) == "appealed"
    assert _audit(app, "compliance.finding_appealed", f"compliance_finding:{finding_id}")

    admin = _admin(app, admin_email)
    queue = admin.get("/admin/compliance/findings").get_data(as_text=True)
    assert finding_id in _finding_ids(queue, "极品") and "注册号 12345678" in queue
    no_reason = post_form(
        admin,
        f"/admin/compliance/findings/{finding_id}/overturn",
        {"reason": ""},
        form_path="/admin/compliance/findings",
    )
    assert no_reason.status_code == 422 and _status(app, finding_id) == "appealed"
    overturned = post_form(
        admin,
        f"/admin/compliance/findings/{finding_id}/overturn",
        {"reason": "商标核实无误"},
        form_path="/admin/compliance/findings",
    )
    assert overturned.status_code == 303 and _status(app, finding_id) == "overturned"
    [entry] = _audit(app, "compliance.finding_overturned", f"compliance_finding:{finding_id}")
    assert entry.actor_kind == "admin" and entry.detail["reason"] == "商标核实无误"
    # deciding twice changes nothing
    twice = post_form(
        admin,
        f"/admin/compliance/findings/{finding_id}/uphold",
        {"reason": "x"},
        form_path="/admin/compliance/findings",
    )
    assert twice.status_code == 303 and _status(app, finding_id) == "overturned"
    # saving again does not raise it again
    assert general.update_product(product["id"], subtitle="新茶").status_code == 200
    assert (
        _finding_ids(general.findings_page("all"), "极品") == [finding_id] and _status(app, finding_id) == "overturned"
    )


def test_appeal_upheld_refuses_the_term_in_that_field(app, general, admin_email):
    product = general.create_product("王牌 保温杯").get_json()
    [finding_id] = _finding_ids(general.findings_page(), "王牌")
    base = f"{general.shop.prefix}/console/compliance"
    post_form(general.client, f"{base}/{finding_id}/appeal", {"appeal_reason": "品牌名"}, form_path=f"{base}/")
    admin = _admin(app, admin_email)
    upheld = post_form(
        admin,
        f"/admin/compliance/findings/{finding_id}/uphold",
        {"reason": "未提供商标证明"},
        form_path="/admin/compliance/findings",
    )
    assert upheld.status_code == 303 and _status(app, finding_id) == "upheld"
    assert _audit(app, "compliance.finding_upheld", f"compliance_finding:{finding_id}")
    assert "未提供商标证明" in general.findings_page("upheld")
    refused = general.update_product(product["id"], title="王牌 保温杯 新款")
    assert refused.status_code == 422 and "王牌" in refused.get_json()["fields"]["title"]["message"]
    assert general.update_product(product["id"], title="保温杯 新款").status_code == 200
    assert _status(app, finding_id) == "cleared"


def test_accepting_a_finding_is_audited_and_leaves_the_to_do_list(app, general):
    general.create_product("万人疯抢 拖鞋")
    [finding_id] = _finding_ids(general.findings_page(), "万人疯抢")
    base = f"{general.shop.prefix}/console/compliance"
    assert post_form(general.client, f"{base}/{finding_id}/accept", {}, form_path=f"{base}/").status_code == 303
    assert _status(app, finding_id) == "accepted"
    assert _audit(app, "compliance.finding_accepted", f"compliance_finding:{finding_id}")
    dashboard = general.client.get(f"{general.shop.prefix}/console/").get_data(as_text=True)
    assert 'data-kind="compliance"' not in dashboard


def test_admins_edit_the_list_and_the_next_save_uses_it(app, general, admin_email, word):
    from mallow.compliance.terms import current_matcher

    assert general.create_product(f"{word} 耳机").status_code == 201
    assert _finding_ids(general.findings_page(), word) == []
    admin = _admin(app, admin_email)
    form = {"term": word, "kind": "absolute", "action": "block", "reason": "测试用语", "active": "1"}
    no_token = admin.post("/admin/compliance/terms/new", data=form)
    assert no_token.status_code == 400  # CSRF
    added = post_form(admin, "/admin/compliance/terms/new", form)
    assert added.status_code == 303
    refused = general.create_product(f"{word.upper()} 耳机")
    assert refused.status_code == 422 and "测试用语" in refused.get_json()["fields"]["title"]["message"]
    [entry] = [e for e in _audit_all(app, "compliance.term_added") if e.detail["after"]["term"] == word]
    assert entry.actor_kind == "admin"

    with app.test_request_context():
        from mallow.compliance.terms import Term
        from mallow.db import db

        term_id = db.session.execute(sa.select(Term.id).where(Term.term == word)).scalar_one()
        builds = app.extensions["mallow.compliance"].builds
        current_matcher(), current_matcher()
        assert app.extensions["mallow.compliance"].builds == builds  # built once per revision
    duplicate = post_form(
        admin,
        "/admin/compliance/terms/new",
        dict(form, term=f" {word.upper()} "),
        form_path="/admin/compliance/terms/new",
    )
    assert duplicate.status_code == 422 and 'data-field="term"' in duplicate.get_data(as_text=True)
    switched_off = post_form(
        admin, f"/admin/compliance/terms/{term_id}", {k: v for k, v in form.items() if k != "active"}
    )
    assert switched_off.status_code == 303
    assert general.create_product(f"{word} 耳机").status_code == 201
    [change] = [e for e in _audit_all(app, "compliance.term_changed") if e.target == f"compliance_term:{term_id}"]
    assert change.detail["before"]["active"] is True and change.detail["after"]["active"] is False
    listing = admin.get("/admin/compliance/terms?kind=absolute").get_data(as_text=True)
    assert f'data-term="{word}"' in listing


def _audit_all(app, action: str) -> list:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return list(db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)).scalars())


def test_a_store_never_sees_or_touches_another_stores_findings(app, general):
    from mallow.testing import login_merchant, make_store

    general.create_product("独家 配方 饼干")
    [finding_id] = _finding_ids(general.findings_page(), "独家")
    other = make_store(app)
    client = app.test_client()
    login_merchant(client, other)
    base = f"{other.prefix}/console/compliance"
    page = client.get(f"{base}/").get_data(as_text=True)
    assert "独家" not in page and "data-finding-id" not in page
    token = csrf_token(client, f"{other.prefix}/console/staff")  # the session's token, from any form
    for action, data in (("accept", {}), ("appeal", {"appeal_reason": "x"})):
        response = client.post(f"{base}/{finding_id}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404
    assert _status(app, finding_id) == "open"
    # the other store's console is closed to this merchant altogether
    assert general.client.get(f"{other.prefix}/console/compliance/").status_code == 403


def test_the_admin_sees_the_seeded_list_by_kind_with_where_it_blocks(app, admin_email):
    admin = _admin(app, admin_email)
    medical = admin.get("/admin/compliance/terms?kind=medical")
    html = medical.get_data(as_text=True)
    assert medical.status_code == 200 and 'data-term="治愈"' in html and 'data-term="最好"' not in html
    assert "预包装食品" in html or "Pre-packaged food" in html
    edit_link = re.search(r'href="(/admin/compliance/terms/\d+)"', html).group(1)
    form = admin.get(edit_link).get_data(as_text=True)
    assert 'name="term"' in form and 'value="food_prepackaged" checked' in form
    assert admin.get("/admin/compliance/terms?kind=nonsense").status_code == 400
    assert app.test_client().get("/admin/compliance/terms").status_code in (302, 303)  # admins only
