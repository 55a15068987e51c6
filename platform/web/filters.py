"""Template filters every page may use, registered once for the whole app (core, themes and
plugins): money as text, from :mod:`mallow.money`.

* ``{{ 1250|yuan }}`` → ``12.50`` (a plain amount, e.g. after a ¥ the template writes itself)
* ``{{ 1250|fen_to_yuan }}`` → ``¥12.50``; ``{{ -500|fen_to_yuan }}`` → ``-¥5.00``
"""
from __future__ import annotations

from flask import Flask

from mallow.money import fen_to_price, fen_to_yuan


def init_app(app: Flask) -> None:
    app.add_template_filter(fen_to_yuan, "yuan")
    app.add_template_filter(fen_to_price, "fen_to_yuan")
