"""The countdown block of the page builder: registered through ``mallow_register_blocks``,
rendered from the page JSON with absolute times (pages are cached), nothing in stores that have
not enabled the plugin."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mallow.testing import make_store

from .conftest import create_sale, enabled_store, in_request, now, product

blocks = pytest.importorskip("mallow.builder.blocks")


def _render(app, shop, settings):
    from mallow.builder.render import render_document
    from mallow.builder.themes import theme_set
    from mallow.tenants.context import current_store

    document = {"order": ["b1"], "sections": {"b1": {"type": "flashsale_countdown", "settings": settings}}}

    def render():
        return str(
            render_document(
                document, kind="home", theme=theme_set().get("default"), theme_settings={}, store=current_store()
            ).html
        )

    return in_request(app, shop, render)


def test_the_countdown_block_renders_the_sale_with_absolute_times(fs_app):
    block_type = blocks.types_of(fs_app).get("flashsale_countdown")
    assert block_type is not None and getattr(block_type, "plugin", "flashsale") == "flashsale"
    assert set(block_type.settings) == {"sale", "title"}

    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    starts = now() + timedelta(hours=1)
    sale = create_sale(
        fs_app,
        shop,
        [{"sku_id": sku, "sale_price": 100, "quota": 5}],
        title="整点秒杀",
        starts=starts,
        ends=starts + timedelta(hours=1),
        preheat=now() - timedelta(minutes=5),
    )
    html = _render(fs_app, shop, {"sale": 0, "title": ""})
    assert "整点秒杀" in html and f"/x/flashsale/{sale['id']}" in html
    assert f'data-fs-starts="{int(starts.timestamp())}"' in html
    assert re.search(r'<script src="[^"]*/x/flashsale/static/countdown\.js" defer></script>', html)
    assert "<script>" not in html  # nothing inline

    named = _render(fs_app, shop, {"sale": sale["id"], "title": "今晚八点"})
    assert "今晚八点" in named

    other = make_store(fs_app)  # the plugin is off there: the block shows nothing
    assert "fs-block" not in _render(fs_app, other, {"sale": sale["id"], "title": ""})


def test_register_blocks_takes_either_form_and_skips_what_it_cannot_use():
    from mallow_flashsale.blocks import register_blocks

    seen = {}

    def short_form(type_name, *, label, schema=None, template=None):
        seen.update(name=type_name, schema=schema, template=template)

    assert register_blocks(short_form)
    assert seen["name"] == "flashsale_countdown" and seen["template"].endswith("blocks/flashsale_countdown.html")
    assert set(seen["schema"]["properties"]) == {"sale", "title"}
    assert register_blocks(lambda type_name: None) is False
