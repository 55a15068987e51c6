"""Page JSON is untrusted: unknown types, wrong setting types, oversized documents and script in
any text or link setting are refused with JSON-pointer field errors; nothing refused is saved."""

from __future__ import annotations

import pytest
from mallow.builder import validation
from mallow.builder.validation import link_problem, validate_document
from mallow.validation import ValidationFailed


def _errors(app, document) -> dict:
    with app.test_request_context(), pytest.raises(ValidationFailed) as failed:
        validate_document(document)
    return {field: code for field, (code, _message) in failed.value.errors.items()}


def _ok(app, document) -> dict:
    with app.test_request_context():
        return validate_document(document)


def doc(*sections):
    return {"sections": {i: {"type": t, "settings": s} for i, t, s in sections}, "order": [i for i, _t, _s in sections]}


def test_valid_document_gets_defaults_and_clean_rich_text(app):
    cleaned = _ok(
        app,
        doc(
            ("g", "product_grid", {"title": "推荐", "count": 4}),
            ("t", "rich_text", {"html": '<p style="color:red">香<b>脆</b></p>'}),
        ),
    )
    assert cleaned["order"] == ["g", "t"]
    grid = cleaned["sections"]["g"]["settings"]
    assert grid["count"] == 4 and grid["columns"] == 2 and grid["source"] == "best_sellers"
    assert cleaned["sections"]["t"]["settings"]["html"] == "<p>香<b>脆</b></p>"


def test_unknown_block_and_child_types_are_refused(app):
    errors = _errors(
        app,
        {
            "sections": {
                "x": {"type": "iframe_embed", "settings": {}},
                "c": {
                    "type": "carousel",
                    "settings": {},
                    "blocks": {"s1": {"type": "video", "settings": {}}},
                    "block_order": ["s1"],
                },
            },
            "order": ["x", "c"],
        },
    )
    assert errors == {"/sections/x/type": "unknown_type", "/sections/c/blocks/s1/type": "unknown_type"}


@pytest.mark.parametrize(
    "settings, field, code",
    [
        ({"count": "six"}, "count", "wrong_type"),
        ({"count": 6.5}, "count", "wrong_type"),
        ({"count": True}, "count", "wrong_type"),
        ({"columns": 9}, "columns", "out_of_range"),
        ({"source": "everything"}, "source", "not_allowed"),
        ({"title": ["a"]}, "title", "wrong_type"),
        ({"title": "长" * 61}, "title", "too_long"),
        ({"products": [1, 1]}, "products", "duplicate"),
        ({"products": "1,2"}, "products", "wrong_type"),
        ({"show_price": "yes"}, "show_price", "wrong_type"),
        ({"onclick": "x"}, "onclick", "unknown_setting"),
    ],
)
def test_wrong_setting_types_are_refused_at_their_path(app, settings, field, code):
    assert _errors(app, doc(("g", "product_grid", settings))) == {f"/sections/g/settings/{field}": code}


def test_colour_and_nested_child_settings(app):
    errors = _errors(
        app,
        {
            "sections": {
                "n": {"type": "notice_bar", "settings": {"background": "red; x: url(y)"}},
                "c": {
                    "type": "carousel",
                    "settings": {"aspect": "4:3"},
                    "blocks": {"s1": {"type": "slide", "settings": {"alt": 5}}},
                    "block_order": ["s1"],
                },
            },
            "order": ["n", "c"],
        },
    )
    assert errors == {
        "/sections/n/settings/background": "bad_colour",
        "/sections/c/settings/aspect": "not_allowed",
        "/sections/c/blocks/s1/settings/alt": "wrong_type",
    }


def test_document_shape_is_checked(app):
    assert _errors(app, []) == {"/": "wrong_type"}
    assert _errors(app, {"sections": [], "order": []}) == {"/sections": "wrong_type"}
    assert _errors(app, {"sections": {}, "order": [], "script": "x"}) == {"/script": "unknown_key"}
    assert _errors(app, {"sections": {"a": {"type": "spacer"}}, "order": ["a", "a"]}) == {"/order/1": "duplicate"}
    assert _errors(app, {"sections": {"a": {"type": "spacer"}}, "order": ["b"]}) == {
        "/order/0": "unknown_block",
        "/order": "missing",
    }
    assert _errors(app, {"sections": {"a/b": {"type": "spacer"}}, "order": ["a/b"]}) == {"/sections/a~1b": "bad_id"}
    assert _errors(app, {"sections": {"a": {"type": "spacer", "html": "<b>"}}, "order": ["a"]}) == {
        "/sections/a/html": "unknown_key"
    }
    too_many_slides = {f"s{i}": {"type": "slide", "settings": {}} for i in range(9)}
    assert _errors(
        app,
        {
            "sections": {"c": {"type": "carousel", "blocks": too_many_slides, "block_order": list(too_many_slides)}},
            "order": ["c"],
        },
    ) == {"/sections/c/blocks": "too_many"}
    assert _errors(
        app,
        {
            "sections": {"s": {"type": "spacer", "blocks": {"x": {"type": "slide"}}, "block_order": ["x"]}},
            "order": ["s"],
        },
    ) == {"/sections/s/blocks": "no_children"}


def test_oversized_documents_are_refused(app):
    big = {f"b{i}": {"type": "rich_text", "settings": {"html": "<p>" + "字" * 19_000 + "</p>"}} for i in range(6)}
    assert _errors(app, {"sections": big, "order": list(big)}) == {"/": "too_large"}
    many = {f"b{i}": {"type": "spacer", "settings": {}} for i in range(validation.MAX_SECTIONS + 1)}
    assert _errors(app, {"sections": many, "order": list(many)}) == {"/sections": "too_many"}


SCRIPTS = [
    ("notice_bar", "text", "<script>alert(1)</script>", "script"),
    ("notice_bar", "text", "< SCRIPT src=//evil.example/x.js>", "script"),
    ("notice_bar", "text", "&lt;script&gt;alert(1)&lt;/script&gt;", "script"),
    ("notice_bar", "text", "<img src=x onerror=alert(1)>", "event_handler"),
    ("notice_bar", "text", 'x" onmouseover ="alert(1)', "event_handler"),
    ("notice_bar", "text", "javascript:alert(1)", "bad_url"),
    ("notice_bar", "link", "javascript:alert(1)", "bad_url"),
    ("notice_bar", "link", "JaVa\tScRiPt:alert(1)", "bad_url"),
    ("notice_bar", "link", "&#106;avascript:alert(1)", "bad_url"),
    ("notice_bar", "link", "data:text/html;base64,PHNjcmlwdD4=", "bad_url"),
    ("notice_bar", "link", "vbscript:msgbox(1)", "bad_url"),
    ("rich_text", "html", "<p>hi</p><script>alert(1)</script>", "script"),
    ("rich_text", "html", '<img src="x" onerror="alert(1)">', "event_handler"),
    ("rich_text", "html", '<a href="javascript:alert(1)">x</a>', "bad_url"),
    ("rich_text", "html", '<a href="java&#x09;script:alert(1)">x</a>', "bad_url"),
    ("rich_text", "html", '<img src="data:image/svg+xml;base64,PHN2Zz4=">', "bad_url"),
    ("store_info", "intro", "欢迎<script>fetch('/x')</script>", "script"),
    ("video", "url", "javascript:alert(1)", "bad_url"),
]


MORE_SCRIPTS = [
    ("notice_bar", "text", "<svg/onload=alert(1)>", "event_handler"),
    ("notice_bar", "text", "x' onfocus='alert(1)", "event_handler"),
    ("notice_bar", "text", "&lt;img src=x onerror=alert(1)&gt;", "event_handler"),
    ("notice_bar", "text", "java\u200bscript:alert(1)", "bad_url"),
    ("notice_bar", "text", "da\tta:text/html,<b>hi</b>", "bad_url"),
    ("notice_bar", "link", " javascript:alert(1)", "bad_url"),
    ("notice_bar", "link", "data:,hello", "bad_url"),
    ("rich_text", "html", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", "script"),
    ("rich_text", "html", "<!--><script>alert(1)</script>-->", "script"),
    ("rich_text", "html", "<p>x<img src=x onerror=alert(1)", "event_handler"),
    ("rich_text", "html", "<svg/onload=alert(1)>", "event_handler"),
    ("rich_text", "html", '<p style="background:url(javascript:alert(1))">x</p>', "bad_url"),
    ("rich_text", "html", '<svg><a xlink:href="javascript:alert(1)">x</a></svg>', "bad_url"),
    ("rich_text", "html", '<iframe src="https://evil.example/"></iframe>', "embedded"),
    ("video", "url", "data:video/mp4;base64,AAAA", "bad_url"),
]


@pytest.mark.parametrize("block_type, field, value, code", SCRIPTS + MORE_SCRIPTS)
def test_script_in_any_text_or_link_setting_is_refused(app, block_type, field, value, code):
    assert _errors(app, doc(("b", block_type, {field: value}))) == {f"/sections/b/settings/{field}": code}


PROSE = [
    ("notice_bar", "text", "online=yes"),
    ("notice_bar", "text", "Big data: 数据选品"),
    ("notice_bar", "text", "onion=3 斤"),
    ("notice_bar", "text", "Data: 2024 年销量第一"),
    ("notice_bar", "text", "满 99<包邮> online only"),
    ("notice_bar", "link", "/search?q=onion=3"),
    ("store_info", "intro", "ondemand=true, Java script: 入门课 on sale = 今天"),
    ("search_bar", "placeholder", "搜 data:2024"),
    ("rich_text", "html", "<p>online=yes, onion=3</p><p>Big data: 大数据</p>"),
    ("rich_text", "html", '<p><a href="https://shop.example/?q=data" title="online=yes">链接</a></p>'),
]


@pytest.mark.parametrize("block_type, field, value", PROSE)
def test_ordinary_prose_is_accepted_as_written(app, block_type, field, value):
    cleaned = _ok(app, doc(("b", block_type, {field: value})))["sections"]["b"]["settings"][field]
    assert cleaned.replace(' rel="noopener noreferrer"', "") == value


def test_prose_in_a_child_block_is_accepted(app):
    document = {
        "sections": {
            "m": {
                "type": "marketing_strip",
                "settings": {},
                "blocks": {"o1": {"type": "offer", "settings": {"label": "onion=3 买二送一"}}},
                "block_order": ["o1"],
            }
        },
        "order": ["m"],
    }
    assert _ok(app, document)["sections"]["m"]["blocks"]["o1"]["settings"]["label"] == "onion=3 买二送一"


def test_rich_text_outside_the_allow_list_but_harmless_is_removed_quietly(app):
    markup = '<div class="x" style="color:red"><p>字<a href="mailto:a@b.example">信</a></p></div>'
    cleaned = _ok(app, doc(("t", "rich_text", {"html": markup})))
    assert cleaned["sections"]["t"]["settings"]["html"] == '<p>字<a rel="noopener noreferrer">信</a></p>'


def test_script_in_a_child_block_is_refused(app):
    document = {
        "sections": {
            "m": {
                "type": "marketing_strip",
                "settings": {},
                "blocks": {
                    "o1": {
                        "type": "offer",
                        "settings": {"label": "<svg onload=alert(1)>", "link": "https://ok.example"},
                    },
                    "o2": {"type": "offer", "settings": {"link": "javascript:x()"}},
                },
                "block_order": ["o1", "o2"],
            }
        },
        "order": ["m"],
    }
    assert _errors(app, document) == {
        "/sections/m/blocks/o1/settings/label": "event_handler",
        "/sections/m/blocks/o2/settings/link": "bad_url",
    }


@pytest.mark.parametrize(
    "link",
    [
        "",
        "https://shop.example/a?b=1#c",
        "http://example.com",
        "/search?q=茶",
        "/products/12",
        "pages/goods/detail?id=1",
        "?q=1",
        "#top",
        "HTTPS://EXAMPLE.COM",
    ],
)
def test_allowed_links(link):
    assert link_problem(link) is None


@pytest.mark.parametrize(
    "link",
    [
        "//evil.example/x",
        "ftp://example.com",
        "mailto:a@b.c",
        "tel:123",
        "https://user:pw@example.com",
        "https://",
        "https:example.com",
        "/a b",
        '/x" onmouseover="alert(1)',
        "/x'y",
        "/<b>",
        "\\\\evil",
        "x" * 501,
        "wxp://f2f0",
        "intent://x#Intent;end",
    ],
)
def test_refused_links(link):
    assert link_problem(link) is not None


def test_video_must_be_https(app):
    assert _errors(app, doc(("v", "video", {"url": "http://cdn.example/a.mp4"}))) == {
        "/sections/v/settings/url": "not_https"
    }
    assert _ok(app, doc(("v", "video", {"url": "https://cdn.example/a.mp4"})))["sections"]["v"]["settings"]["url"]


def test_errors_are_in_the_requests_language(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}), pytest.raises(ValidationFailed) as failed:
        validate_document(doc(("g", "product_grid", {"count": "many"})))
    message = failed.value.errors["/sections/g/settings/count"][1]
    assert message and not message.isascii()
