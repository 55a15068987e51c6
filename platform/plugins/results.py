"""What each hook must answer: an implementation that answers something else is a fault
(``bad_result``): its answer is dropped and logged with the plugin's name, instead of breaking
the page that reads it several calls later with nobody named.

The pricing types live above this layer (:mod:`mallow.pricing.model`), so they are recognised
by their qualified class name rather than imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ADJUSTMENT = "mallow.pricing.model.Adjustment"
PROBLEM = "mallow.pricing.model.Problem"


def _is(value: Any, qualified: str) -> bool:
    return any(f"{cls.__module__}.{cls.__qualname__}" == qualified for cls in type(value).__mro__)


def _text(value: Any) -> bool:
    """A string, Markup or a lazy translation (flask-babel's ``LazyString``)."""
    return isinstance(value, str) or type(value).__name__ == "LazyString"


def _json(value: Any) -> bool:
    """Plain JSON: ``json.dumps`` takes it as it is (no ``default=``: no dates, no objects)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _one_or_list(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def accepts(value: Any) -> bool:
        if isinstance(value, (list, tuple)):
            return all(check(item) for item in value)
        return check(value)

    return accepts


def _anything(_value: Any) -> bool:
    return True


#: hook → (what it must answer, in words for the log; the check). ``None`` is always fine.
EXPECTED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "mallow_line_adjustments": ("an Adjustment or a list of them", _one_or_list(lambda v: _is(v, ADJUSTMENT))),
    "mallow_order_adjustments": (
        "an Adjustment or a Problem, or a list of them",
        _one_or_list(lambda v: _is(v, ADJUSTMENT) or _is(v, PROBLEM)),
    ),
    "mallow_shipping_fee": ("an Adjustment or a Problem", lambda v: _is(v, ADJUSTMENT) or _is(v, PROBLEM)),
    "mallow_validate_checkout": ("a Problem or a list of them", _one_or_list(lambda v: _is(v, PROBLEM))),
    "mallow_template_slot": ("a str or Markup", _text),
    "mallow_console_menu": ("a dict or a list of dicts", _one_or_list(lambda v: isinstance(v, dict))),
    "mallow_account_entries": ("a dict or a list of dicts", _one_or_list(lambda v: isinstance(v, dict))),
    "mallow_validate_settings": ("a dict of field messages", lambda v: isinstance(v, dict)),
    "mallow_after_payment_url": ("a str", _text),
    "mallow_order_status_label": ("a str", _text),
    "mallow_order_event_label": ("a str", _text),
    "mallow_share_code": ("a dict", lambda v: isinstance(v, dict)),
    "mallow_share_target": ("a dict", lambda v: isinstance(v, dict)),
    "mallow_seed_demo": ("a dict of pages", lambda v: isinstance(v, dict)),
    "mallow_customer_data": ("a dict of plain JSON values", lambda v: isinstance(v, dict) and _json(v)),
    "mallow_erase_customer": ("a list of messages", lambda v: isinstance(v, (list, tuple)) and all(map(_text, v))),
}


def wrong_answer(hook: str, result: Any) -> str | None:
    """None when ``result`` is a fine answer for ``hook``, else what was expected (in words).
    Hooks whose answers are not read (events, ``mallow_order_placed``, registration) accept
    anything."""
    if result is None:
        return None
    expected, check = EXPECTED.get(hook, ("anything", _anything))
    try:
        return None if check(result) else expected
    except Exception:  # a result whose type check itself raises is not a fine answer either
        return expected


def describe(result: Any) -> str:
    """A short description of a wrong answer for the log (its type and a few characters)."""
    text = repr(result)
    return f"{type(result).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"
