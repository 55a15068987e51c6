"""Mandatory statements (法定警示语): seeded, edited by platform admins beside the term list (audited,
the next save uses them), and a food store can write the health-food warning."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from mallow.testing import login_admin, post_form

HEALTH_FOOD_WARNING = "保健食品不是药物，不能代替药物治疗疾病"


def _admin(app, admin_email):
    client = app.test_client()
    login_admin(client, admin_email)
    return client


def _audit(app, action: str) -> list:
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return list(db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)).scalars())


def test_the_statements_are_seeded_in_the_matchers_form(app):
    from mallow.compliance.matcher import fold
    from mallow.compliance.terms import all_statements

    with app.app_context():
        statements = all_statements()
        texts = {s.text for s in statements}
        assert HEALTH_FOOD_WARNING in texts and "本品不能代替药物" in texts
        assert "请按药品说明书或者在药师指导下购买和使用" in texts
        assert [s.text for s in statements if s.key != fold(s.text)[0]] == []
        assert all(s.basis for s in statements if s.text in texts)


def test_a_food_store_saves_the_health_food_warning_and_nothing_is_flagged(food):
    created = food.create_product(
        "鱼油软胶囊",
        subtitle=HEALTH_FOOD_WARNING,
        description_html=f"<p>每日两粒。</p><p><b>{HEALTH_FOOD_WARNING}</b></p>",
    )
    assert created.status_code == 201, created.get_json()
    assert "data-finding-id" not in food.findings_page("all")
    # the same terms outside the warning are still refused
    refused = food.update_product(created.get_json()["id"], subtitle=f"可治疗失眠。{HEALTH_FOOD_WARNING}")
    assert refused.status_code == 422 and "治疗" in refused.get_json()["fields"]["subtitle"]["message"]


def test_admins_edit_the_statements_audited_and_the_next_save_uses_them(app, food, admin_email):
    from mallow.compliance.terms import current_matcher

    statement = f"本品{uuid.uuid4().hex[:6]}不能治愈疾病"
    assert food.create_product("酸枣仁茶", subtitle=statement).status_code == 422  # 治愈 blocks in food

    admin = _admin(app, admin_email)
    form = {"text": statement, "basis": "测试依据", "active": "1"}
    assert admin.post("/admin/compliance/statements/new", data=form).status_code == 400  # CSRF
    added = post_form(admin, "/admin/compliance/statements/new", form)
    assert added.status_code == 303
    [entry] = [e for e in _audit(app, "compliance.statement_added") if e.detail["after"]["text"] == statement]
    assert entry.actor_kind == "admin" and entry.detail["before"] is None
    # written with other punctuation, spacing or traditional characters, it is the same statement
    assert food.create_product("酸枣仁茶", subtitle=statement.replace("治愈", " 治 癒 ") + "。").status_code == 201

    with app.test_request_context():
        builds = app.extensions["mallow.compliance"].builds
        current_matcher(), current_matcher()
        assert app.extensions["mallow.compliance"].builds == builds  # built once per revision

    listing = admin.get("/admin/compliance/statements").get_data(as_text=True)
    assert f'data-statement="{statement}"' in listing and "测试依据" in listing
    edit = re.search(
        r'data-statement="' + re.escape(statement) + r'".*?href="(/admin/compliance/statements/\d+)"', listing, re.S
    ).group(1)
    duplicate = post_form(
        admin,
        "/admin/compliance/statements/new",
        dict(form, text=f"{statement}！"),
        form_path="/admin/compliance/statements/new",
    )
    assert duplicate.status_code == 422 and 'data-field="text"' in duplicate.get_data(as_text=True)
    empty = post_form(admin, edit, dict(form, text=" "))
    assert empty.status_code == 422 and 'data-field="text"' in empty.get_data(as_text=True)

    switched_off = post_form(admin, edit, {"text": statement, "basis": "测试依据"})
    assert switched_off.status_code == 303
    [change] = [
        e
        for e in _audit(app, "compliance.statement_changed")
        if e.target == f"compliance_statement:{edit.rsplit('/', 1)[1]}"
    ]
    assert change.detail["before"]["active"] is True and change.detail["after"]["active"] is False
    assert food.create_product("酸枣仁茶", subtitle=statement).status_code == 422
    assert f'data-statement="{statement}" class="muted"' in admin.get("/admin/compliance/statements").get_data(
        as_text=True
    )


def test_the_statements_page_is_for_admins_and_linked_from_the_term_list(app, admin_email, general):
    assert app.test_client().get("/admin/compliance/statements").status_code in (302, 303)
    assert general.client.get("/admin/compliance/statements").status_code in (302, 303, 403)
    admin = _admin(app, admin_email)
    assert "/admin/compliance/statements" in admin.get("/admin/compliance/terms").get_data(as_text=True)
    page = admin.get("/admin/compliance/statements").get_data(as_text=True)
    assert f'data-statement="{HEALTH_FOOD_WARNING}"' in page
    assert 'name="text"' in admin.get("/admin/compliance/statements/new").get_data(as_text=True)
    assert admin.get("/admin/compliance/statements/999999").status_code == 404


def test_a_matcher_reports_where_the_statements_are(app):
    from mallow.compliance.terms import current_matcher

    text = f"每日两粒。{HEALTH_FOOD_WARNING.replace('，', ' , ')}！"
    with app.app_context():
        [(start, end)] = current_matcher().statements(text)
    assert text[start:end] == HEALTH_FOOD_WARNING.replace("，", " , ")
