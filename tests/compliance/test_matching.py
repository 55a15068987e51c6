"""The seeded term list found term by term, through full-width, traditional, spaced,
zero-width and upper/lower-case disguises; longest match; block by store category."""

from __future__ import annotations

import pytest
from mallow.compliance import check_fields
from mallow.compliance.matcher import fold
from mallow.compliance.terms import all_terms
from mallow.validation import ValidationFailed


def _found(app, text, category="general"):
    with app.app_context():
        return [(m.term, m.position, m.match.text, m.action) for m in check_fields({"title": text}, category=category)]


def test_the_brief_example_is_flagged_term_by_term(app):
    assert _found(app, "全网最低价 国家级 第一品牌") == [
        ("最低价", 2, "最低价", "flag"),
        ("国家级", 6, "国家级", "flag"),
        ("第一品牌", 10, "第一品牌", "flag"),
    ]


@pytest.mark.parametrize(
    "text, term, written",
    [
        ("全網最低價", "最低价", "最低價"),  # traditional
        ("國家級品質", "国家级", "國家級"),
        ("ＮＯ．１好物", "NO.1", "ＮＯ．１"),  # full-width
        ("销量ＴＯＰ１", "TOP1", "ＴＯＰ１"),
        ("国\u200b家 级", "国家级", "国\u200b家 级"),  # zero-width and space inside
        ("顶\ufeff级\u3000工艺", "顶级", "顶\ufeff级"),
        ("品质 no.1 之选", "NO.1", "no.1"),  # Latin case
        ("We are No. 1!", "NO.1", "No. 1"),
        ("Top 1 of the year", "TOP1", "Top 1"),
        ("纯棉 100 % 面料", "100%", "100 %"),
    ],
)
def test_evasion_forms_are_found(app, text, term, written):
    found = _found(app, text)
    assert [(t, w) for t, _p, w, _a in found if t == term] == [(term, written)]
    position = next(p for t, p, _w, _a in found if t == term)
    assert text[position : position + len(written)] == written


@pytest.mark.parametrize("text", ["stop 1 minute", "1100% rise", "top10 list", "nano.1"])
def test_latin_terms_match_only_at_word_edges(app, text):
    assert _found(app, text) == []


def test_the_longest_term_wins_and_each_distinct_term_is_reported(app):
    assert [t for t, *_ in _found(app, "史上最低价")] == ["史上最低价"]
    assert [t for t, *_ in _found(app, "最低价")] == ["最低价"]
    assert [t for t, *_ in _found(app, "最低")] == ["最低"]
    assert [(t, p) for t, p, *_ in _found(app, "最好的，最好的")] == [("最好", 0), ("最好", 4)]
    # partly overlapping terms are both claims: both reported
    assert [(t, p) for t, p, *_ in _found(app, "全网第一品牌")] == [("全网第一", 0), ("第一品牌", 2)]


def test_medical_claims_block_on_food_cosmetics_and_health_and_are_flagged_elsewhere(app):
    assert _found(app, "喝了能治愈失眠") == [("治愈", 3, "治愈", "flag")]
    for category in ("food_prepackaged", "cosmetics", "special_food"):
        with app.app_context(), pytest.raises(ValidationFailed) as refused:
            check_fields({"title": "喝了能治愈失眠", "subtitle": "好喝"}, category=category)
        assert list(refused.value.errors) == ["title"]
        code, message = refused.value.errors["title"]
        assert code == "prohibited_term" and "治愈" in message
    with app.app_context(), pytest.raises(ValidationFailed):
        check_fields({"title": "治 癒"}, category="food_bulk")  # disguised too


def test_every_seeded_term_is_stored_in_the_matchers_form(app):
    with app.app_context():
        terms = all_terms()
        assert len(terms) >= 71  # the brief's representative list
        assert {t.kind for t in terms} == {
            "superlative",
            "first_only",
            "grade",
            "first_exclusive",
            "endorsement",
            "absolute",
            "urgency",
            "medical",
        }
        assert {"国家级", "NO.1", "TOP1", "100%", "治愈"} <= {t.term for t in terms}
        assert [t.term for t in terms if t.key != fold(t.term)[0]] == []
