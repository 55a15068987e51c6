"""Row ids that come from outside (URL parts, query strings, forms, JSON bodies).

Every id column in Mallow, core and bundled plugins, is a 32-bit ``Integer`` (PostgreSQL
``integer``, ``SERIAL``): an id above :data:`ID_MAX` is no row, and PostgreSQL answers a query
with one by an error ("integer out of range") that would be a 500. So ids are bounded where they
enter, in three places and nowhere else:

* URL parts: :class:`IdConverter` replaces the app's ``int`` converter (:func:`init_app`, first
  thing in the app factory), so ``<int:product_id>`` in core and plugin routes matches only
  1..ID_MAX and anything else is a 404. A route whose number is not an id says so with
  converter arguments (``<int(min=0):index>``).
* JSON bodies of API operations: ``ID`` (and ``NULLABLE_ID``) of :mod:`mallow.api.registry` in
  the operation's schema, a 422 with the field's error; the OpenAPI document gives path ids
  the same :data:`ID_SCHEMA`.
* query strings and forms: :func:`id_value`.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

#: the largest value of an ``Integer`` id column (PostgreSQL ``integer``)
ID_MAX = 2**31 - 1
#: the JSON schema of an id (request bodies and the OpenAPI document)
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_MAX}


class IdConverter(IntegerConverter):
    """``<int:…>``: a whole number from 1 to :data:`ID_MAX` unless the rule gives its own
    ``min``/``max`` (never above ``ID_MAX``)."""

    def __init__(
        self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ):
        low = 1 if min is None else min
        high = ID_MAX if max is None or max > ID_MAX else max
        super().__init__(map, fixed_digits, low, high, signed)


def init_app(app) -> None:
    """Make ``<int:…>`` an :class:`IdConverter`: before any ``int`` rule is added (a rule binds its
    converter when it is added)."""
    early = [rule.rule for rule in app.url_map.iter_rules() if "<int" in rule.rule]
    if early:
        raise RuntimeError(f"int rules added before the id converter: {early}")
    app.url_map.converters["int"] = IdConverter


def id_value(raw) -> int | None:
    """An id from a query string, form or loose JSON value: the int, or ``None`` unless it is a
    whole number (ASCII digits, or a number) from 1 to :data:`ID_MAX`. Usable as a ``type=``
    of ``request.args.get``."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():  # JSON Schema's "integer" takes 3.0
        value = int(raw)
    elif isinstance(raw, str) and (text := raw.strip()).isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
    else:
        return None
    return value if 1 <= value <= ID_MAX else None
