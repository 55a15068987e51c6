"""Money as text: one module (mallow.money) and one set of template filters for every page."""

from __future__ import annotations

from mallow.money import fen_to_price, fen_to_yuan


def test_fen_become_yuan_text_without_floats():
    assert [fen_to_yuan(f) for f in (1250, 5, 0, -500, None)] == ["12.50", "0.05", "0.00", "-5.00", ""]
    assert [fen_to_price(f) for f in (1250, 5, 0, -500, None)] == ["¥12.50", "¥0.05", "¥0.00", "-¥5.00", ""]
    assert fen_to_price(10_000_000_001) == "¥100000000.01"  # never through float


def test_every_template_has_both_money_filters(app):
    with app.app_context():
        rendered = app.jinja_env.from_string("{{ 1250|yuan }} {{ 1250|fen_to_yuan }} {{ -500|fen_to_yuan }}").render()
    assert rendered == "12.50 ¥12.50 -¥5.00"
