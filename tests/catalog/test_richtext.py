"""Description HTML is reduced to an allow-list: nothing that runs, loads frames or styles survives."""

from __future__ import annotations

import pytest

from mallow.catalog.richtext import sanitise, text_of


@pytest.mark.parametrize(
    "dirty, forbidden",
    [
        ("<p>hi<script>alert(1)</script></p>", ["<script", "alert"]),
        ('<img src="x.png" onerror="alert(1)">', ["onerror", "alert"]),
        ('<a href="javascript:alert(1)">x</a>', ["javascript", "alert"]),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', ["javascript", "alert"]),
        ('<a href="java&#x09;script:alert(1)">x</a>', ["script:", "alert"]),
        ('<a href=" javascript:alert(1)">x</a>', ["javascript", "alert"]),
        ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', ["data:"]),
        ('<a href="vbscript:msgbox(1)">x</a>', ["vbscript"]),
        ('<p style="background:url(javascript:alert(1))">x</p>', ["style", "javascript"]),
        ("<style>body{display:none}</style><p>x</p>", ["<style", "display"]),
        ('<iframe src="https://evil.example/"></iframe><p>x</p>', ["iframe", "evil"]),
        ('<svg onload="alert(1)"><circle/></svg>', ["svg", "onload", "alert"]),
        ('<object data="x.swf"></object><embed src="x.swf">', ["object", "embed", "swf"]),
        ('<form action="/x"><input name="a"><button>go</button></form>', ["<form", "<input", "<button"]),
        ('<p onclick="x()" onmouseover="y()">x</p>', ["onclick", "onmouseover"]),
        ('<div class="evil" id="main">x</div>', ["class", "id=", "<div"]),
        ("<!-- secret --><p>x</p>", ["secret"]),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example"><p>x</p>', ["meta", "refresh"]),
        ('<a href="https://shop.example/" target="_blank" rel="opener">x</a>', ["_blank", 'opener"']),
        ('<img src="x.png" width="100%" height="javascript:1">', ["100%", "javascript"]),
    ],
)
def test_dangerous_markup_is_removed(dirty, forbidden):
    clean = sanitise(dirty)
    for piece in forbidden:
        assert piece.lower() not in clean.lower(), (dirty, clean)


def test_allowed_markup_is_kept():
    html = (
        "<h2>产地</h2><p><strong>临安</strong> <em>山核桃</em> <u>手剥</u> <s>旧价</s><br>新鲜</p>"
        "<ul><li>一</li></ul><ol><li>二</li></ol><blockquote>引用</blockquote><h3>小标题</h3><h4>更小</h4>"
        '<table><thead><tr><th>规格</th></tr></thead><tbody><tr><td colspan="2">120g</td></tr></tbody></table>'
        '<img src="https://img.example/a.jpg" alt="果仁" width="640" height="480"><img src="/s/demo/media/x.jpg">'
        "<span>文字</span>"
    )
    clean = sanitise(html)
    for piece in (
        "<h2>产地</h2>",
        "<strong>临安</strong>",
        "<em>山核桃</em>",
        "<u>手剥</u>",
        "<s>旧价</s>",
        "<br>",
        "<ul><li>一</li></ul>",
        "<ol><li>二</li></ol>",
        "<blockquote>引用</blockquote>",
        "<h3>",
        "<h4>",
        "<th>规格</th>",
        'colspan="2"',
        'src="https://img.example/a.jpg"',
        'alt="果仁"',
        'width="640"',
        'height="480"',
        'src="/s/demo/media/x.jpg"',
        "<span>文字</span>",
    ):
        assert piece in clean, (piece, clean)


def test_links_keep_http_https_and_relative_and_get_rel():
    clean = sanitise(
        '<a href="https://a.example/x" title="t">a</a><a href="http://b.example">b</a><a href="/p/1">c</a>'
    )
    assert clean.count('rel="noopener noreferrer"') == 3
    assert 'href="https://a.example/x"' in clean and 'title="t"' in clean
    assert 'href="http://b.example"' in clean and 'href="/p/1"' in clean


def test_h1_is_not_allowed_but_its_text_stays():
    assert sanitise("<h1>大标题</h1>") == "大标题"


def test_empty_and_text_of():
    assert sanitise(None) == "" and sanitise("") == ""
    assert text_of("<p>临安<b>山核桃</b>仁</p><p>a&amp;b</p><script>var secret</script>") == "临安山核桃仁 a&b"
