"""The matcher's one folding pass, table by table: every evasion is found with the right term
and its original span; ordinary copy (and English) is not glued into false matches."""

from __future__ import annotations

import time

import pytest
from mallow.compliance import check_fields
from mallow.compliance.matcher import fold

DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d~\uff5e_"

# (text, term, as written in the text); each is put between CJK words and, for Latin terms, in
# an English sentence too
EVASIONS = [
    # separators of every kind between CJK characters
    ("国-家-级", "国家级", "国-家-级"),
    ("国·家·级", "国家级", "国·家·级"),
    ("国 家 级", "国家级", "国 家 级"),
    ("国/家/级", "国家级", "国/家/级"),
    ("国😀家😀级", "国家级", "国😀家😀级"),
    ("国👍🏻家❤️级", "国家级", "国👍🏻家❤️级"),  # emoji with a skin tone, with a variation selector
    ("国，家，级", "国家级", "国，家，级"),
    ("国\n家\n级", "国家级", "国\n家\n级"),
    ("國・家・級", "国家级", "國・家・級"),  # traditional, katakana middle dot
    ("國‧家‧級", "国家级", "國‧家‧級"),
    ("国ー家ー级", "国家级", "国ー家ー级"),  # the long-vowel mark as a dash
    ("国*家*级", "国家级", "国*家*级"),
    ("国【家】级", "国家级", "国【家】级"),
    ("国\u200b家\u200c级", "国家级", "国\u200b家\u200c级"),
    ("国家·级", "国家级", "国家·级"),
    ("国家 级别", "国家级", "国家 级"),  # any separator but a sentence break is read through
    ("国家 · 级", "国家级", "国家 · 级"),
    ("最\u200d好", "最好", "最\u200d好"),  # zero-width joiner
    ("最\u00ad好", "最好", "最\u00ad好"),  # soft hyphen
    ("最\ufe0f好", "最好", "最\ufe0f好"),
    ("最 低 价", "最低价", "最 低 价"),
    ("最．低．價", "最低价", "最．低．價"),
    *[(f"最{dash}好", "最好", f"最{dash}好") for dash in DASHES],
    # numerals: circled, parenthesised, with a full stop, dingbats, financial, full-width, keycap
    ("第①", "第一", "第①"),
    ("第⑴", "第一", "第⑴"),
    ("第⒈", "第一", "第⒈"),
    ("第❶", "第一", "第❶"),
    ("第➀", "第一", "第➀"),
    ("第➊", "第一", "第➊"),
    ("第⓵", "第一", "第⓵"),
    ("第㈠", "第一", "第㈠"),
    ("第㊀", "第一", "第㊀"),
    ("第壹", "第一", "第壹"),
    ("第弌", "第一", "第弌"),
    ("第１", "第一", "第１"),
    ("第1", "第一", "第1"),
    ("第 1", "第一", "第 1"),
    ("第(1)", "第一", "第(1"),
    ("第（１）", "第一", "第（１"),
    ("第1️⃣", "第一", "第1"),
    ("第-一", "第一", "第-一"),
    ("销量第①", "销量第一", "销量第①"),
    ("全网第壹", "全网第一", "全网第壹"),
    ("第①品牌", "第一品牌", "第①品牌"),
    ("中國第１", "中国第一", "中國第１"),
    ("唯①", "唯一", "唯①"),
    ("独1无2", "独一无二", "独1无2"),
    ("獨壹無貳", "独一无二", "獨壹無貳"),
    # NO.1 / TOP1 / 100%
    ("No 1", "NO.1", "No 1"),
    ("NO1", "NO.1", "NO1"),
    ("No.1", "NO.1", "No.1"),
    ("No. 1", "NO.1", "No. 1"),
    ("no.1", "NO.1", "no.1"),
    ("N0.1", "NO.1", "N0.1"),
    ("ＮＯ1", "NO.1", "ＮＯ1"),
    ("ＮＯ．１", "NO.1", "ＮＯ．１"),
    ("№1", "NO.1", "№1"),
    ("№ 1", "NO.1", "№ 1"),
    ("N O 1", "NO.1", "N O 1"),
    ("N.O.1", "NO.1", "N.O.1"),
    ("No#1", "NO.1", "No#1"),
    ("No-1", "NO.1", "No-1"),
    ("No_1", "NO.1", "No_1"),
    ("No·1", "NO.1", "No·1"),
    ("No①", "NO.1", "No①"),
    ("No(1)", "NO.1", "No(1"),
    ("No❶", "NO.1", "No❶"),
    ("NO 壹", "NO.1", "NO 壹"),
    ("Top 1", "TOP1", "Top 1"),
    ("TOP-1", "TOP1", "TOP-1"),
    ("T O P 1", "TOP1", "T O P 1"),
    ("T-O-P-1", "TOP1", "T-O-P-1"),
    ("T0P1", "TOP1", "T0P1"),
    ("ＴＯＰ１", "TOP1", "ＴＯＰ１"),
    ("top①", "TOP1", "top①"),
    ("100 %", "100%", "100 %"),
    ("100％", "100%", "100％"),
    ("１００％", "100%", "１００％"),
    ("一〇〇%", "100%", "一〇〇%"),
]

LATIN = {"NO.1", "TOP1", "100%"}


def _found(app, text, category="general"):
    with app.app_context():
        return [(m.term, m.position, m.match.text) for m in check_fields({"title": text}, category=category)]


def _cases():
    for text, term, written in EVASIONS:
        yield pytest.param(f"好物{text}推荐", term, written, id=f"cjk:{text!r}")
        if term in LATIN:
            yield pytest.param(f"We are {text} in town", term, written, id=f"latin:{text!r}")


@pytest.mark.parametrize("text, term, written", list(_cases()))
def test_every_evasion_is_found_with_its_term_and_original_span(app, text, term, written):
    found = _found(app, text)
    assert [(t, w) for t, _p, w in found] == [(term, written)], found
    position = found[0][1]
    assert text[position : position + len(written)] == written


LEGITIMATE = [
    "No 10 号码",
    "NO.10 号码",
    "No. 10 tips",
    "No 100 号",
    "N01 型号",
    "A10 手机壳",
    "第10天",
    "第 10 天",
    "第１０天",
    "第1.5代",
    "第二天",
    "国家 标准 GB 2760",
    "符合国家标准 GB 2760-2014",
    "国家，级别",  # two words across punctuation are not one term
    "风味独特，效果好",  # not 特效 (which blocks in food stores)
    "风味独特。\n效果好",
    "态度积极。致力于服务",  # not 极致
    "拒绝，对不起",  # not 绝对
    "单独、家用两相宜",  # not 独家
    "Say no, 1 is enough",
    "No problem, 1 year warranty",
    "Answer no: 1 apple a day",
    "There is no 1-click checkout",
    "no 1/2 measures",
    "I have no 1st-hand data",
    "No one is perfect",
    "Model no. 12",
    "Go to p1 for details",
    "stop 1 minute",
    "desktop 1",
    "Top 10 tips",
    "top10 list",
    "1100% rise",
    "1,100% rise",
    "nano.1",
    "www.top1shop.com",
    "Version 1.0, no 2.0 yet",
]


@pytest.mark.parametrize("text", LEGITIMATE)
def test_ordinary_copy_is_not_flagged(app, text):
    assert _found(app, text) == []


HEALTH_FOOD_WARNING = "保健食品不是药物，不能代替药物治疗疾病"


@pytest.mark.parametrize(
    "text",
    [
        HEALTH_FOOD_WARNING,
        "【注意】保健食品不是药物，不能代替药物治疗疾病。",
        "保健食品不是药物,不能代替药物治疗疾病",  # half-width comma
        "保健食品不是藥物，不能代替藥物治療疾病",  # traditional
        "保健食品 不是药物 不能代替药物 治疗疾病",
        "保健食品不是药物\n不能代替药物治疗疾病",
        "鱼油软胶囊，每日两粒。保健食品不是药物，不能代替药物治疗疾病。",
        "请按药品说明书或者在药师指导下购买和使用",
    ],
)
@pytest.mark.parametrize("category", ["food_prepackaged", "special_food", "general"])
def test_a_mandatory_statement_is_not_flagged_even_where_its_terms_block(app, text, category):
    assert _found(app, text, category) == []


def test_terms_outside_the_statement_are_still_found(app):
    from mallow.validation import ValidationFailed

    assert _found(app, f"最好的鱼油。{HEALTH_FOOD_WARNING}") == [("最好", 0, "最好")]
    assert _found(app, f"{HEALTH_FOOD_WARNING}，国家级工艺") == [("国家级", len(HEALTH_FOOD_WARNING) + 1, "国家级")]
    for text in (f"可治疗失眠。{HEALTH_FOOD_WARNING}", "不能代替药物治疗疾病", "保健食品不是药物，能治疗疾病"):
        with app.app_context(), pytest.raises(ValidationFailed) as refused:
            check_fields({"subtitle": text}, category="food_prepackaged")
        assert "治疗" in refused.value.errors["subtitle"][1]


def test_chinese_and_arabic_numerals_fold_alike_and_keys_are_the_terms_folded(app):
    assert fold("第一")[0] == fold("第1")[0] == fold("第①")[0] == fold("第壹")[0] == fold("第１")[0] == "第1"
    assert fold("No 1")[0] == fold("NO.1")[0] == fold("№1")[0] == "no1"
    assert fold("100 %")[0] == "100%" and fold("国%家")[0] == "国家"
    folded, where = fold("國 家\u200b級")
    assert folded == "国家级" and where == [0, 2, 4]


def test_a_long_text_is_checked_in_one_quick_pass(app):
    from mallow.compliance.terms import current_matcher

    text = ("精选原料，匠心工艺 Crafted with care, no compromise. 规格 500g，第10批次。" * 600)[:30_000]
    with app.app_context():
        matcher = current_matcher()
        matcher.find(text)  # warm the character cache
        started = time.perf_counter()
        assert matcher.find(text) == []
        elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed  # about 30 ms on a laptop; generous for a busy CI machine
