"""Spec axes and the SKU matrix they make: ``[{"name": "颜色", "values": ["红", "蓝"]}, …]``.

SKUs are the cartesian product of the axes (:func:`combinations`). Each is identified by its
``spec_key`` (``"规格:120g"``; axes sorted by name, so reordering axes changes nothing), and shown
by its ``spec_label`` (``"红 / M"``, the values in axis order).
"""

from __future__ import annotations

import itertools
import re

from flask_babel import gettext as _

from mallow.validation import Errors

MAX_AXES = 3
MAX_VALUES = 30
SPEC_NAME_MAX = 20
SPEC_VALUE_MAX = 30
MAX_SKUS = 200
#: characters that would make a spec key ambiguous
_RESERVED = re.compile(r"[:;\x00-\x1f]")


def spec_key(spec_values: dict) -> str:
    """``{"颜色": "红", "尺码": "M"}`` → ``"尺码:M;颜色:红"`` (``""`` for a product without specs)."""
    return ";".join(f"{name}:{spec_values[name]}" for name in sorted(spec_values))


def combinations(specs: list[dict]) -> list[dict]:
    """Every combination of the spec axes in display order (``[{}]`` without specs)."""
    if not specs:
        return [{}]
    names = [axis["name"] for axis in specs]
    return [dict(zip(names, values, strict=False)) for values in itertools.product(*(axis["values"] for axis in specs))]


def spec_label(spec_values: dict, specs: list[dict] | None = None) -> str:
    """``"红 / M"``: the values in axis order."""
    names = [axis["name"] for axis in specs] if specs else list(spec_values)
    return " / ".join(str(spec_values[n]) for n in names if n in spec_values)


def clean_specs(raw, errors: Errors, field: str = "specs") -> list[dict]:
    """Validated spec axes: names and values stripped, unique, without ``:`` or ``;``."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.add(field, "invalid", _("Specs must be a list of names with values."))
        return []
    if len(raw) > MAX_AXES:
        errors.add(field, "too_many", _("Use at most %(max)s spec axes.", max=MAX_AXES))
        return []
    axes, names = [], set()
    for i, axis in enumerate(raw):
        where = f"{field}.{i}"
        if not isinstance(axis, dict):
            errors.add(where, "invalid", _("Specs must be a list of names with values."))
            continue
        name = str(axis.get("name") or "").strip()
        values_raw = axis.get("values")
        if not name:
            errors.add(where, "name_required", _("Give every spec a name, e.g. Colour."))
            continue
        if len(name) > SPEC_NAME_MAX or _RESERVED.search(name):
            errors.add(
                where,
                "invalid_name",
                _("A spec name has at most %(max)s characters and no colon or semicolon.", max=SPEC_NAME_MAX),
            )
            continue
        if name in names:
            errors.add(where, "duplicate", _("The spec %(name)s is there twice.", name=name))
            continue
        names.add(name)
        if not isinstance(values_raw, list) or not values_raw:
            errors.add(where, "values_required", _("Give the spec %(name)s at least one value.", name=name))
            continue
        values: list[str] = []
        for value in values_raw:
            value = str(value if value is not None else "").strip()
            if not value:
                continue
            if len(value) > SPEC_VALUE_MAX or _RESERVED.search(value):
                errors.add(
                    where,
                    "invalid_value",
                    _("A spec value has at most %(max)s characters and no colon or semicolon.", max=SPEC_VALUE_MAX),
                )
                break
            if value in values:
                errors.add(where, "duplicate_value", _("The value %(value)s is there twice.", value=value))
                break
            values.append(value)
        if not values and where not in errors:
            errors.add(where, "values_required", _("Give the spec %(name)s at least one value.", name=name))
        if len(values) > MAX_VALUES:
            errors.add(where, "too_many_values", _("A spec has at most %(max)s values.", max=MAX_VALUES))
        axes.append({"name": name, "values": values})
    total = 1
    for axis in axes:
        total *= max(1, len(axis["values"]))
    if total > MAX_SKUS:
        errors.add(
            field,
            "too_many_skus",
            _("These specs make %(count)s combinations; at most %(max)s are allowed.", count=total, max=MAX_SKUS),
        )
    return axes
