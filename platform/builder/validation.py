"""Checking page JSON before it is saved: nothing refused here ever reaches a storefront.

A page document (see docs/builder.md)::

    {"sections": {"hero": {"type": "carousel", "settings": {"aspect": "16:9"},
                           "blocks": {"s1": {"type": "slide", "settings": {"image": 12, "link": "/search"}}},
                           "block_order": ["s1"]},
                  "picks": {"type": "product_grid", "settings": {"source": "best_sellers", "count": 6}}},
     "order": ["hero", "picks"]}

Refused, each with a field error whose name is a JSON pointer into the document
(``/sections/hero/blocks/s1/settings/link``): a document over :data:`MAX_BYTES`, unknown keys,
unknown block or child types, settings of the wrong type or out of range (the type's JSON
Schema), ids missing from or repeated in ``order``, and script: what each kind of setting
refuses (plain text that looks like script, rich text the sanitiser would have to strip, script
URLs in links) is in :mod:`mallow.builder.script_filters`. Link settings accept only http(s)
URLs, paths inside the store (``/search``) and mini-program page paths
(``pages/index/index?id=1``); video addresses only https. Rich text that passes is reduced to
the catalogue's allow-list (nh3).

:func:`validate_document` returns the normalised document (defaults filled in, rich text
cleaned) or raises :class:`~mallow.validation.ValidationFailed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from mallow.builder import blocks
from mallow.builder.script_filters import rich_text_problem, unsafe_text
from mallow.catalog import richtext
from mallow.validation import Errors

MAX_BYTES = 256 * 1024  # of the document as compact UTF-8 JSON
MAX_SECTIONS = 60
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LINK_MAX = 500

_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\"'<>\\`{}|^]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def pointer(*parts) -> str:
    """``pointer("sections", "a/b", "settings")`` → ``/sections/a~1b/settings`` (RFC 6901)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# -- strings and links ------------------------------------------------------------------------


def setting_problem(editor: str | None, value) -> str | None:
    """The code of the script a setting of this editor kind must refuse (None: accepted).

    Rich text is read as HTML; every other string (plain text, links, video addresses, and the
    strings of any other setting) gets the plain-text checks; links and video addresses then
    their allow-lists."""
    if editor == "richtext" and isinstance(value, str):
        return rich_text_problem(value)
    for text_value in _strings(value):
        problem = unsafe_text(text_value)
        if problem:
            return problem
    if editor == "link" and isinstance(value, str):
        return link_problem(value)
    if editor == "url" and isinstance(value, str):
        return video_problem(value)
    return None


def link_problem(value: str) -> str | None:
    """None when ``value`` is an allowed link: empty, http(s)://host…, ``/path`` inside the
    store, or a mini-program page path (``pages/x/y?id=1``); else a code."""
    if value == "":
        return None
    if len(value) > LINK_MAX:
        return "too_long"
    if _URL_FORBIDDEN.search(value):
        return "bad_link"
    scheme = _SCHEME.match(value)
    if scheme:
        if scheme.group(1).lower() in ("javascript", "vbscript", "livescript", "data"):
            return "bad_url"
        if scheme.group(1).lower() not in ("http", "https"):
            return "bad_scheme"
        try:
            parts = urlsplit(value)
        except ValueError:
            return "bad_link"
        if (
            not parts.hostname
            or parts.username
            or parts.password
            or not value.lower().startswith(scheme.group(1).lower() + "://")
        ):
            return "bad_link"
        return None
    if value.startswith("//"):
        return "bad_link"  # another host without saying so
    return None


def video_problem(value: str) -> str | None:
    if value == "":
        return None
    problem = link_problem(value)
    if problem:
        return problem
    return None if value.lower().startswith("https://") else "not_https"


def _messages() -> dict[str, Callable[[], str]]:
    return {
        "script": lambda: _("Remove the script: <script> is not allowed here."),
        "event_handler": lambda: _("Remove the event handler (on…=): it would run script."),
        "bad_url": lambda: _("javascript: and data: addresses are not allowed."),
        "embedded": lambda: _("Remove the embedded content (<iframe>, <object>…): it is not allowed here."),
        "bad_scheme": lambda: _("Use an http or https address, a path in your store (/…) or a mini-program page path."),
        "bad_link": lambda: _("This is not a valid link."),
        "not_https": lambda: _("Use an https address."),
        "too_long": lambda: _("Use at most %(max)s characters.", max=LINK_MAX),
        "not_found": lambda: _("This item no longer exists in your store."),
    }


def message(code: str) -> str:
    return _messages()[code]()


# -- JSON Schema errors in words --------------------------------------------------------------

_TYPE_WORDS = {
    "string": lambda: _("text"),
    "integer": lambda: _("a whole number"),
    "number": lambda: _("a number"),
    "boolean": lambda: _("yes or no"),
    "array": lambda: _("a list"),
    "object": lambda: _("an object"),
    "null": lambda: _("nothing"),
}


def _schema_message(error) -> tuple[str, str]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = _(" or ").join(_TYPE_WORDS[w]() if w in _TYPE_WORDS else w for w in wanted)
        return "wrong_type", _("Expected %(type)s.", type=words)
    if kind == "maxLength":
        return "too_long", _("Use at most %(max)s characters.", max=error.validator_value)
    if kind == "minLength":
        return "too_short", _("Use at least %(min)s characters.", min=error.validator_value)
    if kind in ("minimum", "maximum"):
        return "out_of_range", _(
            "Enter a number from %(min)s to %(max)s.", min=schema.get("minimum", "…"), max=schema.get("maximum", "…")
        )
    if kind == "enum":
        return "not_allowed", _("Choose one of: %(keys)s.", keys=", ".join(str(v) for v in error.validator_value))
    if kind == "pattern" and schema.get("x-editor") == "color":
        return "bad_colour", _("Enter a colour like #ff6600.")
    if kind == "maxItems":
        return "too_many", _("Choose at most %(max)s.", max=error.validator_value)
    if kind == "uniqueItems":
        return "duplicate", _("An item is chosen twice.")
    return "invalid", _("This value is not valid.")


@lru_cache(maxsize=256)
def _validator_for(owner: str, schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _check_settings(
    settings_schemas: dict, raw, where: tuple, errors: Errors, owner: str, references: Callable | None
) -> dict:
    """Validated settings with defaults filled in; errors under ``where + ("settings", …)``."""
    here = (*where, "settings")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.add(pointer(*here), "wrong_type", _("Expected %(type)s.", type=_TYPE_WORDS["object"]()))
        return {}
    schema = blocks.plain(blocks.object_schema(settings_schemas))
    validator = _validator_for(owner, json.dumps(schema, sort_keys=True, default=str))
    for error in validator.iter_errors(raw):
        if error.validator == "additionalProperties":
            for extra in sorted(set(error.instance) - set(schema["properties"])):
                errors.add(pointer(*here, extra), "unknown_setting", _("Unknown setting."))
            continue
        code, text = _schema_message(error)
        errors.add(pointer(*here, *error.path), code, text)
    cleaned = {}
    for name, setting in settings_schemas.items():
        value = raw.get(name, blocks.plain(setting.get("default")))
        path = pointer(*here, name)
        if path in errors:
            cleaned[name] = value
            continue
        editor = setting.get("x-editor")
        problem = setting_problem(editor, value)
        if problem:
            errors.add(path, problem, message(problem))
            cleaned[name] = value
            continue
        if editor == "richtext":
            value = richtext.sanitise(value)
        if (
            references is not None
            and editor in ("image", "product", "products", "category")
            and value
            and not references(editor, value)
        ):
            errors.add(path, "not_found", message("not_found"))
        cleaned[name] = value
    return cleaned


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _ordered(mapping, order, where: tuple, order_key: str, errors: Errors) -> list[str]:
    """The ids of ``mapping`` in ``order``: each listed once, none missing, none unknown."""
    if order is None:
        order = list(mapping) if isinstance(mapping, dict) else []
    if not isinstance(order, list) or not all(isinstance(i, str) for i in order):
        errors.add(pointer(*where, order_key), "wrong_type", _("Expected a list of block ids."))
        return []
    seen = []
    for index, block_id in enumerate(order):
        if block_id in seen:
            errors.add(pointer(*where, order_key, index), "duplicate", _("A block is listed twice."))
        elif block_id not in mapping:
            errors.add(pointer(*where, order_key, index), "unknown_block", _("No block has this id."))
        else:
            seen.append(block_id)
    if any(block_id not in seen for block_id in mapping):
        errors.add(pointer(*where, order_key), "missing", _("Every block must be listed in the order."))
    return seen


def _check_keys(raw: dict, allowed: set, where: tuple, errors: Errors) -> None:
    for key in raw:
        if key not in allowed:
            errors.add(pointer(*where, key), "unknown_key", _("Unknown field."))


def validate_document(document, *, references: Callable | None = None, kind: str | None = None) -> dict:
    """The normalised document, or ``ValidationFailed`` with JSON-pointer field names.

    ``references(editor, value) -> bool`` checks media, product and category ids against the
    store (the service passes one that asks the database). ``kind`` is the page kind: a block type
    limited to other kinds (``page_kinds``) is refused with ``wrong_page``."""
    errors = Errors()
    if not isinstance(document, dict):
        errors.add("/", "wrong_type", _("A page must be a JSON object."))
        errors.raise_if_any()
    size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode())
    if size > MAX_BYTES:
        errors.add(
            "/",
            "too_large",
            _("The page is too large (%(size)s KB; at most %(max)s KB).", size=size // 1024, max=MAX_BYTES // 1024),
        )
        errors.raise_if_any()
    _check_keys(document, {"sections", "order"}, (), errors)
    sections = document.get("sections", {})
    if not isinstance(sections, dict):
        errors.add("/sections", "wrong_type", _("Expected %(type)s.", type=_TYPE_WORDS["object"]()))
        errors.raise_if_any()
    if len(sections) > MAX_SECTIONS:
        errors.add("/sections", "too_many", _("A page holds at most %(max)s blocks.", max=MAX_SECTIONS))
        errors.raise_if_any()
    order = _ordered(sections, document.get("order"), (), "order", errors)
    cleaned_sections = {}
    for section_id in sections:
        where = ("sections", section_id)
        if not ID_RE.match(section_id):
            errors.add(pointer(*where), "bad_id", _("Block ids use letters, digits, - and _ (at most 40)."))
            continue
        cleaned = _check_section(sections[section_id], where, errors, references, kind)
        if cleaned is not None:
            cleaned_sections[section_id] = cleaned
    errors.raise_if_any()
    return {"sections": {i: cleaned_sections[i] for i in order}, "order": order}


def _check_section(raw, where: tuple, errors: Errors, references, kind: str | None = None) -> dict | None:
    if not isinstance(raw, dict):
        errors.add(pointer(*where), "wrong_type", _("Expected %(type)s.", type=_TYPE_WORDS["object"]()))
        return None
    _check_keys(raw, {"type", "settings", "blocks", "block_order"}, where, errors)
    type_name = raw.get("type")
    block_type = blocks.available(type_name) if isinstance(type_name, str) else None
    if block_type is None:
        if isinstance(type_name, str) and blocks.get(type_name) is not None:  # a plugin's type, not enabled here
            errors.add(
                pointer(*where, "type"),
                "not_enabled",
                _("This block comes from a plugin that this store has not turned on."),
            )
        else:
            errors.add(pointer(*where, "type"), "unknown_type", _("Unknown block type."))
        return None
    if not block_type.allowed_on(kind):
        pages = " / ".join(page_kind_label(k) for k in block_type.page_kinds)
        errors.add(pointer(*where, "type"), "wrong_page", _("This block can only be used on: %(pages)s.", pages=pages))
        return None
    settings = _check_settings(block_type.settings, raw.get("settings"), where, errors, type_name, references)
    section = {"type": type_name, "settings": settings}
    children = raw.get("blocks")
    if children is None and raw.get("block_order") in (None, []):
        if block_type.children:
            section.update(blocks={}, block_order=[])
        return section
    if not isinstance(children, dict):
        errors.add(pointer(*where, "blocks"), "wrong_type", _("Expected %(type)s.", type=_TYPE_WORDS["object"]()))
        return section
    if not block_type.children and children:
        errors.add(pointer(*where, "blocks"), "no_children", _("This block type holds no child blocks."))
        return section
    if len(children) > block_type.max_children:
        errors.add(
            pointer(*where, "blocks"),
            "too_many",
            _("This block holds at most %(max)s items.", max=block_type.max_children),
        )
        return section
    child_order = _ordered(children, raw.get("block_order"), where, "block_order", errors)
    cleaned_children = {}
    for child_id, child in children.items():
        child_where = (*where, "blocks", child_id)
        if not ID_RE.match(child_id):
            errors.add(pointer(*child_where), "bad_id", _("Block ids use letters, digits, - and _ (at most 40)."))
            continue
        if not isinstance(child, dict):
            errors.add(pointer(*child_where), "wrong_type", _("Expected %(type)s.", type=_TYPE_WORDS["object"]()))
            continue
        _check_keys(child, {"type", "settings"}, child_where, errors)
        child_type = block_type.children.get(child.get("type")) if isinstance(child.get("type"), str) else None
        if child_type is None:
            errors.add(pointer(*child_where, "type"), "unknown_type", _("Unknown block type."))
            continue
        cleaned_children[child_id] = {
            "type": child_type.name,
            "settings": _check_settings(
                child_type.settings,
                child.get("settings"),
                child_where,
                errors,
                f"{type_name}.{child_type.name}",
                references,
            ),
        }
    section["blocks"] = {i: cleaned_children[i] for i in child_order if i in cleaned_children}
    section["block_order"] = [i for i in child_order if i in cleaned_children]
    return section


def page_kind_label(kind: str) -> str:
    return {
        "home": lambda: _("Home page"),
        "landing": lambda: _("Landing page"),
        "product": lambda: _("Product page template"),
        "category": lambda: _("Category page template"),
    }.get(kind, lambda: kind)()


def empty_document() -> dict:
    return {"sections": {}, "order": []}
