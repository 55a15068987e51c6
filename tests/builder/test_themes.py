"""Themes: manifests and their settings, fallback to the default theme's templates, and the
sandbox (a theme template cannot reach Python internals; page JSON is data, never template)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jinja2.exceptions import TemplateRuntimeError
from mallow.builder import blocks
from mallow.builder.themes import BUNDLED, ThemeError, ThemeSet, load_theme


def test_every_builtin_block_type_has_a_default_template_and_valid_defaults(app):
    with app.test_request_context():
        types = [t for t in blocks.block_types() if t.builtin]
        assert len(types) >= 11
        for block_type in types:
            assert (BUNDLED / "default" / "templates" / block_type.template).is_file(), block_type.name
            from mallow.builder.validation import validate_document

            validate_document({"sections": {"x": {"type": block_type.name}}, "order": ["x"]})


def test_bundled_themes_load_and_differ(app):
    themes = app.extensions["mallow.themes"].themes
    assert {"default", "promo"} <= set(themes)
    default, promo = themes["default"], themes["promo"]
    assert default.defaults()["primary"] != promo.defaults()["primary"]
    overridden = {p.name for p in (promo.folder / "templates" / "blocks").glob("*.html")}
    assert {"product_grid.html", "carousel.html"} <= overridden
    assert "spacer.html" not in overridden  # left to the default theme on purpose (fallback)
    for theme in themes.values():
        assert (theme.folder / "static" / theme.stylesheet).is_file()


def test_a_block_the_theme_does_not_style_falls_back_to_the_default_template(app, builder):
    builder.client.put(f"{builder.api}/theme", json={"theme": "promo"}, headers=builder.headers)
    builder.product("龙井")
    builder.save_and_publish(
        builder.doc(("s", "spacer", {"height": 40, "divider": True}), ("g", "product_grid", {"source": "newest"}))
    )
    html = builder.home_html()
    assert 'class="mp-spacer" style="height:40px"' in html  # default's spacer.html
    assert "pr-product" in html  # promo's own product_grid.html
    assert "/theme/default/theme.css" in html and "/theme/promo/theme.css" in html  # styles fall back too


def test_the_promo_ribbon_claims_no_ranking(app, builder):
    """Only the store's own best sellers get a ribbon, and it says 热销: no "TOP1" (an absolute term)."""
    builder.client.put(f"{builder.api}/theme", json={"theme": "promo"}, headers=builder.headers)
    picked = [builder.product(f"手选 {i}")["id"] for i in range(2)]
    builder.save_and_publish(
        builder.doc(
            ("b", "product_grid", {"source": "best_sellers"}),
            ("h", "product_grid", {"source": "picked", "products": picked}),
        )
    )
    html = builder.home_html()
    best, handpicked = html.split('data-block-id="h"')
    assert best.count('class="pr-ribbon">热销<') == 2 and "pr-ribbon" not in handpicked
    assert not re.search(r"TOP\s*\d", html, re.IGNORECASE)


def test_theme_settings_are_validated(app, builder):
    bad = builder.client.put(
        f"{builder.api}/theme",
        json={
            "theme": "promo",
            "settings": {"primary": "red;}</style><script>", "radius": 99, "shout": "yes", "font": "x"},
        },
        headers=builder.headers,
    )
    assert bad.status_code == 422
    assert {k: v["code"] for k, v in bad.get_json()["fields"].items()} == {
        "/settings/primary": "bad_colour",
        "/settings/radius": "out_of_range",
        "/settings/shout": "wrong_type",
        "/settings/font": "unknown_setting",
    }
    assert (
        builder.client.put(f"{builder.api}/theme", json={"theme": "../../etc"}, headers=builder.headers).status_code
        == 422
    )
    listed = builder.client.get(f"{builder.api}/theme", headers=builder.headers).get_json()
    assert listed["theme"] == "default" and {t["name"] for t in listed["themes"]} >= {"default", "promo"}


def _theme(folder: Path, name: str, templates: dict, settings: dict | None = None) -> Path:
    root = folder / name
    (root / "templates" / "blocks").mkdir(parents=True)
    (root / "static").mkdir()
    (root / "static" / "theme.css").write_text("")
    (root / "theme.json").write_text(json.dumps({"name": name, "version": "1", "settings": settings or {}}))
    for path, source in templates.items():
        (root / "templates" / path).write_text(source)
    return root


def test_manifests_are_checked(tmp_path):
    with pytest.raises(ThemeError):
        load_theme(_theme(tmp_path, "Bad Name", {}))
    with pytest.raises(ThemeError):
        load_theme(
            _theme(
                tmp_path,
                "css",
                {},
                {"c": {"type": "string", "default": "x", "x-editor": "color", "x-css": "color; background:url(x)"}},
            )
        )
    with pytest.raises(ThemeError):
        load_theme(
            _theme(
                tmp_path, "baddefault", {}, {"c": {"type": "integer", "maximum": 3, "default": 9, "x-editor": "number"}}
            )
        )


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ block.__class__ }}",
    "{{ _.__globals__ }}",
    "{{ _.func_globals }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ block.settings.update({'x': 1}) }}",
    "{{ block.blocks.append(1) }}",
    "{% set x = namespace() %}{{ x.__init__.__globals__ }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_a_theme_template_cannot_reach_python_internals(app, tmp_path, source):
    _theme(tmp_path, "evil", {"blocks/spacer.html": source})
    themes = ThemeSet([BUNDLED, tmp_path])
    assert "evil" in themes.themes
    env = themes.environment("evil")
    block = {"settings": {"title": "x"}, "blocks": []}
    with app.test_request_context():
        try:
            output = env.get_template("blocks/spacer.html").render(block=block)
        except TemplateRuntimeError:  # SecurityError (unsafe call) or UndefinedError
            output = ""
    # an unsafe attribute is undefined (prints nothing); an unsafe call or a use of it raises
    assert output.strip() == "" and block == {"settings": {"title": "x"}, "blocks": []}


def test_a_failing_theme_block_is_left_out_of_the_page(app, builder, tmp_path, monkeypatch):
    _theme(tmp_path, "evil", {"blocks/spacer.html": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    themes = ThemeSet([BUNDLED, tmp_path])
    monkeypatch.setitem(app.extensions, "mallow.themes", themes)
    from mallow.builder import service
    from mallow.tenants.context import store_context

    with store_context(builder.shop.store_id, app=app):
        service.save_theme("evil", {})
    builder.save_and_publish(builder.doc(("s", "spacer", {}), ("n", "notice_bar", {"text": "照常显示"})))
    html = builder.home_html()
    assert "照常显示" in html and "mro" not in html and "class 'str'" not in html


def test_page_json_is_data_not_template(app, builder):
    builder.save_and_publish(
        builder.doc(
            ("n", "notice_bar", {"text": "{{ ''.__class__ }} {% raw %}</p></section><b>x</b>"}),
            ("t", "rich_text", {"html": "<p>{{ 7*7 }}<style>body{display:none}</style></p>"}),
        )
    )
    html = builder.home_html()
    assert "{{ &#39;&#39;.__class__ }}" in html and "&lt;/p&gt;&lt;/section&gt;&lt;b&gt;x&lt;/b&gt;" in html
    assert "<p>{{ 7*7 }}</p>" in html and "<style>body" not in html


def test_every_builtin_block_type_is_documented(app):
    text = (Path(__file__).resolve().parents[2] / "docs" / "builder.md").read_text()
    missing = [t.name for t in blocks.types_of(app).all() if t.builtin and f"### `{t.name}`" not in text]
    assert not missing, f"document these block types in docs/builder.md: {missing}"


def test_theme_labels_follow_the_language(app):
    theme = app.extensions["mallow.themes"].themes["promo"]
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert theme.title == "大促" and theme.editor_fields()[0]["label"] == "主色"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert theme.title == "Big sale"
