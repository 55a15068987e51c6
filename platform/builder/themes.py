"""Themes: folders with a manifest, block templates and a stylesheet, rendered in a sandbox.

A theme is a folder (``themes/<name>/`` of the ``mallow_themes`` package, or any folder listed
in the ``MALLOW_THEME_PATHS`` setting) holding::

    theme.json              name, version, labels, settings schema (JSON Schema properties)
    templates/pages/page.html        the page around the blocks (``pages/<kind>.html`` first)
    templates/blocks/<type>.html     one small template per block type it styles
    static/theme.css                 its stylesheet

Templates run in a Jinja2 :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
autoescape: they get plain data (dicts, lists, strings, numbers; rich text as already
sanitised markup), no Python objects, no ``url_for``, and the sandbox refuses ``_``-attributes
and function internals, so neither a theme nor page JSON can reach Python internals or put
script on the page. One environment per theme (its own template cache); its loader looks in
the theme, then in the default theme (a block type a theme does not style falls back to the
default's template), then in the folders plugins registered block types with.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

from mallow.builder.validation import _schema_message
import mallow_themes
from flask import current_app
from flask_babel import get_locale, get_translations, gettext, ngettext
from jinja2 import ChoiceLoader, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from jsonschema import Draft202012Validator
from mallow.builder import blocks
from mallow.validation import Errors

BUNDLED = Path(mallow_themes.__file__).parent
DEFAULT = "default"
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
THEME_EDITORS = ("color", "number", "select", "checkbox")
_CSS_VALUE = re.compile(r"^[A-Za-z0-9 #,.%()\"'-]{0,200}$")
_CSS_VAR = re.compile(r"^--[a-z0-9-]{1,40}$")
_CSS_CLASS = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


class ThemeError(ValueError):
    pass


@dataclass
class Theme:
    name: str
    version: str
    folder: Path
    label: dict  # {"en": …, "zh_CN": …}
    description: dict
    settings: dict  # {name: JSON Schema with x-editor, x-label, x-css / x-class / x-css-values}
    stylesheet: str | None = "theme.css"
    validator: Draft202012Validator = field(repr=False, default=None)

    def text(self, mapping: dict) -> str:
        """A manifest label in the request's language (themes carry their own translations)."""
        locale = get_locale()
        keys = [str(locale), f"{locale.language}_{locale.territory}", locale.language] if locale else ["zh_CN"]
        return next((mapping[k] for k in keys + ["en"] if mapping.get(k)), self.name)

    @property
    def title(self) -> str:
        return self.text(self.label)

    def defaults(self) -> dict:
        return {name: schema.get("default") for name, schema in self.settings.items()}

    def check_settings(self, raw, prefix: str = "/settings") -> dict:
        """Validated settings with defaults filled in (``ValidationFailed`` otherwise)."""
        errors = Errors()
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            errors.add(prefix, "wrong_type", gettext("Expected an object of settings."))
            errors.raise_if_any()
        for error in self.validator.iter_errors(raw):
            if error.validator == "additionalProperties":
                for extra in sorted(set(error.instance) - set(self.settings)):
                    errors.add(f"{prefix}/{extra}", "unknown_setting", gettext("Unknown setting."))
                continue
            code, message = _schema_message(error)
            errors.add(prefix + "".join(f"/{p}" for p in error.path), code, message)
        errors.raise_if_any()
        return {**self.defaults(), **raw}

    def css(self, settings: dict) -> tuple[str, str]:
        """``(style attribute, extra classes)`` of the page root for these (valid) settings."""
        style, classes = [], []
        for name, schema in self.settings.items():
            value = settings.get(name, schema.get("default"))
            if "x-css" in schema:
                shown = schema.get("x-css-values", {}).get(value, value) if isinstance(value, str) else value
                if isinstance(shown, bool):
                    continue
                shown = f"{shown}{schema.get('x-unit', '')}"
                if _CSS_VALUE.match(shown):
                    style.append(f"{schema['x-css']}:{shown}")
            if schema.get("x-editor") == "checkbox" and value and "x-class" in schema:
                classes.append(schema["x-class"])
            if schema.get("x-editor") == "select" and isinstance(value, str) and _CSS_CLASS.match(f"{name}-{value}"):
                classes.append(f"mp-{name}-{value}".replace("_", "-"))
        return ";".join(style), " ".join(classes)

    def editor_fields(self) -> list[dict]:
        fields = []
        for name, schema in self.settings.items():
            entry = {
                "name": name,
                "label": self.text(schema.get("x-label", {})) or name,
                "editor": schema["x-editor"],
                "default": schema.get("default"),
            }
            for key in ("minimum", "maximum"):
                if key in schema:
                    entry[key] = schema[key]
            if "enum" in schema:
                labels = schema.get("x-labels", {})
                entry["options"] = [
                    {"value": v, "label": self.text(labels.get(v, {})) if labels.get(v) else v} for v in schema["enum"]
                ]
            fields.append(entry)
        return fields


def load_theme(folder: Path) -> Theme:
    """Read and check ``folder/theme.json`` (``ThemeError`` says what is wrong)."""
    try:
        manifest = json.loads((folder / "theme.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ThemeError(f"{folder}: cannot read theme.json: {exc}") from None
    name = manifest.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ThemeError(f"{folder}: theme name {name!r}")
    settings = manifest.get("settings", {})
    if not isinstance(settings, dict):
        raise ThemeError(f"{name}: settings must be an object")
    for key, schema in settings.items():
        if not isinstance(schema, dict) or schema.get("x-editor") not in THEME_EDITORS:
            raise ThemeError(f"{name}.{key}: x-editor must be one of {THEME_EDITORS}")
        if "x-css" in schema and not _CSS_VAR.match(schema["x-css"]):
            raise ThemeError(f"{name}.{key}: x-css must be a custom property name (--…)")
        if "x-class" in schema and not _CSS_CLASS.match(schema["x-class"]):
            raise ThemeError(f"{name}.{key}: bad x-class")
        for shown in schema.get("x-css-values", {}).values():
            if not _CSS_VALUE.match(str(shown)):
                raise ThemeError(f"{name}.{key}: bad x-css-values entry {shown!r}")
    schema = {"type": "object", "properties": settings, "additionalProperties": False}
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    theme = Theme(
        name=name,
        version=str(manifest.get("version", "0")),
        folder=folder,
        label=manifest.get("label") or {"en": name},
        description=manifest.get("description") or {},
        settings=settings,
        stylesheet=manifest.get("stylesheet", "theme.css"),
        validator=validator,
    )
    problems = list(validator.iter_errors(theme.defaults()))
    if problems:
        raise ThemeError(f"{name}: a default is not valid: {problems[0].message}")
    return theme


#: the request's translations while a page renders (:func:`translating`): the sandbox's ``_()``
#: looks a message up in them directly instead of finding them again for every message
_TRANSLATIONS: ContextVar = ContextVar("mallow_theme_translations", default=None)


@contextmanager
def translating() -> Iterator[None]:
    """Inside the block, the theme templates' ``_()`` and ``ngettext()`` use the translations of
    the request's locale found once here (Flask-Babel finds them again per call: a page's
    blocks say dozens of messages)."""
    token = _TRANSLATIONS.set(get_translations())
    try:
        yield
    finally:
        _TRANSLATIONS.reset(token)


def translated(function):
    """``function`` run inside :func:`translating` (code that says many messages per request)."""

    @functools.wraps(function)
    def run_translated(*args, **kwargs):
        with translating():
            return function(*args, **kwargs)

    return run_translated


def quick_gettext(message, **variables):
    """Flask-Babel's ``gettext`` with the translations of :func:`translating` when set."""
    translations = _TRANSLATIONS.get()
    if translations is None:
        return gettext(message, **variables)
    text = translations.ugettext(message)
    return text % variables if variables else text


def quick_ngettext(singular, plural, num, **variables):
    """Flask-Babel's ``ngettext`` (``num`` is a variable too) as :func:`quick_gettext`."""
    translations = _TRANSLATIONS.get()
    if translations is None:
        return ngettext(singular, plural, num, **variables)
    variables.setdefault("num", num)
    return translations.ungettext(singular, plural, num) % variables


@pass_context
def _template_gettext(context, string, **variables):
    """What ``_()`` and ``gettext()`` of a theme template answer: Jinja's new-style ``gettext``
    over :func:`quick_gettext` (the same text), called directly: Jinja's own goes through its
    alias ``_``, then its new-style wrapper, then the sandbox's call of the function, three calls
    per message."""
    text = quick_gettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


@pass_context
def _template_ngettext(context, singular, plural, num, **variables):
    """``ngettext()`` of a theme template: Jinja's new-style one over :func:`quick_ngettext`."""
    variables.setdefault("num", num)
    text = quick_ngettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


#: names a plain dict answers as attributes itself (``d.items``): those go the sandbox's own way
_DICT_ATTRIBUTES = frozenset(dir(dict))
#: a loop's counters (``loop.index``, ``loop.first``…): numbers and booleans, safe to read
_LOOP_COUNTERS = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"})


class ThemeEnvironment(ImmutableSandboxedEnvironment):
    """The themes' sandbox, with the lookups templates make most cheap: ``block.settings.title``
    on a plain ``dict`` (every view of a page is one) is its item, as the sandbox answers it
    after ``getattr`` failed, without raising and catching that failure each time; a loop's
    counters (``loop.index``) are read without the sandbox's checks of a safe attribute (they
    are one: no underscore, a plain number or boolean)."""

    def getattr(self, obj, attribute):
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        if kind is LoopContext and attribute in _LOOP_COUNTERS:  # what the sandbox answers, checks skipped
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)


class ThemeSet:
    """The app's themes and one sandboxed environment per theme (``app.extensions``)."""

    def __init__(self, folders: list[Path], auto_reload: bool = False, block_types: blocks.BlockTypes | None = None):
        self.themes: dict[str, Theme] = {}
        for root in folders:
            for folder in sorted(p for p in Path(root).iterdir() if (p / "theme.json").is_file()):
                theme = load_theme(folder)
                self.themes.setdefault(theme.name, theme)
        if DEFAULT not in self.themes:
            raise ThemeError("the default theme is missing")
        self.auto_reload = auto_reload
        self._environments: dict[str, ImmutableSandboxedEnvironment] = {}
        #: ``{(theme name, kind or template name): Template}``: which template answers, found once
        #: (the loader tries ``pages/<kind>.html`` on disk every time it is missing)
        self._templates: dict[tuple[str, str], object] = {}
        self._lock = Lock()
        #: the app's block types: their template folders (plugins') join every environment
        self.block_types = block_types
        if block_types is not None:
            block_types.on_change(self.reset)  # a plugin's block type brings its template folder

    def get(self, name: str | None) -> Theme:
        return self.themes.get(name or DEFAULT) or self.themes[DEFAULT]

    def reset(self) -> None:
        with self._lock:
            self._environments.clear()
            self._templates.clear()

    def template(self, name: str, template: str):
        """``environment(name).get_template(template)``, looked up once per theme while templates
        are not reloaded (``auto_reload``: debug)."""
        if self.auto_reload:
            return self.environment(name).get_template(template)
        key = (name, template)
        found = self._templates.get(key)
        if found is None:
            found = self._templates[key] = self.environment(name).get_template(template)
        return found

    def page_template(self, name: str, kind: str):
        """The template of a page of ``kind``: ``pages/<kind>.html`` of the theme (or the default
        theme), else ``pages/page.html``; chosen once per theme and kind (as :meth:`template`)."""
        if self.auto_reload:
            return self.environment(name).select_template([f"pages/{kind}.html", "pages/page.html"])
        key = (name, f"kind:{kind}")
        found = self._templates.get(key)
        if found is None:
            env = self.environment(name)
            found = self._templates[key] = env.select_template([f"pages/{kind}.html", "pages/page.html"])
        return found

    def environment(self, name: str) -> ImmutableSandboxedEnvironment:
        theme = self.get(name)
        env = self._environments.get(theme.name)
        if env is None:
            with self._lock:
                env = self._environments.get(theme.name)
                if env is None:
                    env = self._environments[theme.name] = self._build(theme)
        return env

    def _build(self, theme: Theme) -> ImmutableSandboxedEnvironment:
        loaders = [FileSystemLoader(str(theme.folder / "templates"))]
        if theme.name != DEFAULT:
            loaders.append(FileSystemLoader(str(self.themes[DEFAULT].folder / "templates")))
        loaders += [
            FileSystemLoader(str(t.template_folder))
            for t in (self.block_types.all() if self.block_types else ())
            if t.template_folder
        ]
        env = ThemeEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=self.auto_reload,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_callables(quick_gettext, quick_ngettext, newstyle=True)
        env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
        return env


def theme_set() -> ThemeSet:
    return current_app.extensions["mallow.themes"]


def init_app(app) -> None:
    folders = [BUNDLED] + [Path(p) for p in app.config.get("MALLOW_THEME_PATHS", [])]
    app.extensions["mallow.themes"] = ThemeSet(folders, auto_reload=bool(app.debug), block_types=blocks.types_of(app))
