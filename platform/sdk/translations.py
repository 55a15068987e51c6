"""A plugin's own translations: its Babel domain and catalogue, in Python and in its templates.

Each plugin carries its catalogue inside its package::

    mallow_<name>/translations/<locale>/LC_MESSAGES/mallow_<name>.po  (and the compiled .mo)

and makes one :class:`PluginTranslations` for it (conventionally in ``mallow_<name>/i18n.py``)::

    from mallow.sdk import PluginTranslations

    translations = PluginTranslations(__name__)
    _ = gettext = translations.gettext
    _l = lazy_gettext = translations.lazy_gettext
    ngettext = translations.ngettext

The plugin's messages come from its own catalogue first; a msgid it does not have falls back to
Mallow's (so the storefront layout its pages extend reads as before). Templates get the same
functions: :meth:`PluginTranslations.install` puts ``_``, ``gettext``, ``ngettext`` and
``pgettext`` (with Jinja's "newstyle" semantics: ``_("%(n)s left", n=2)``, always formatted,
escaped under autoescape) into the templates its blueprints render, and
:meth:`PluginTranslations.render_template` does it for a template rendered elsewhere (a template
slot on a core page). Import macros that translate ``with context``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, has_app_context
from flask import render_template as flask_render_template
from flask_babel import Domain, get_babel
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup


class PluginTranslations:
    """The translations of the plugin package that ``module_name`` belongs to (its domain is the
    package name, e.g. ``mallow_groupbuy``; its catalogues are under ``<package>/translations``)."""

    def __init__(self, module_name: str) -> None:
        self.domain = module_name.split(".")[0]
        self._directory: Path | None = None
        self._domains: dict[tuple[str, ...], Domain] = {}

    @property
    def directory(self) -> Path:
        """``<package>/translations`` (found on first use: the package is imported by then)."""
        if self._directory is None:
            package_file = importlib.import_module(self.domain).__file__
            if package_file is None:  # a namespace package: no folder of its own to look in
                raise TypeError(f"{self.domain} has no __init__.py, so it has no translations folder")
            self._directory = Path(package_file).parent / "translations"
        return self._directory

    def _babel_domain(self) -> Domain:
        if not has_app_context():
            return Domain(translation_directories=[str(self.directory)], domain=self.domain)
        config = get_babel()
        core = tuple(config.translation_directories)
        found = self._domains.get(core)
        if found is None:
            names = config.default_domain.split(";")
            names = names * len(core) if len(names) == 1 else names
            # Mallow's catalogues first, the plugin's last: its own translations win
            found = self._domains[core] = Domain(
                translation_directories=[*core, str(self.directory)], domain=";".join([*names, self.domain])
            )
        return found

    # -- Python ------------------------------------------------------------------------------
    def gettext(self, string: str, **variables: Any) -> str:
        """``string`` in the request's language, ``%``-formatted with ``variables`` if any."""
        translated: str = self._babel_domain().gettext(string, **variables)
        return translated

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        """The singular or plural form for ``num`` (available as ``%(num)s``)."""
        translated: str = self._babel_domain().ngettext(singular, plural, num, **variables)
        return translated

    def pgettext(self, context: str, string: str, **variables: Any) -> str:
        """``string`` in a message context (``msgctxt``)."""
        translated: str = self._babel_domain().pgettext(context, string, **variables)
        return translated

    def lazy_gettext(self, string: str, **variables: Any) -> LazyString:
        """Like :meth:`gettext`, translated when shown (for module-level labels)."""
        return LazyString(self.gettext, string, **variables)

    def lazy_ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> LazyString:
        """Like :meth:`ngettext`, translated when shown."""
        return LazyString(self.ngettext, singular, plural, num, **variables)

    # -- templates ---------------------------------------------------------------------------
    def template_functions(self) -> dict[str, Callable[..., str]]:
        """``_``, ``gettext``, ``ngettext`` and ``pgettext`` for a template context."""
        gettext = _newstyle(self._translate)
        return {
            "_": gettext,
            "gettext": gettext,
            "ngettext": _newstyle_plural(self),
            "pgettext": _newstyle_context(self),
        }

    def _translate(self, string: str) -> str:
        translated: str = self._babel_domain().get_translations().ugettext(string)
        return translated

    def install(self, blueprint: Blueprint) -> Blueprint:
        """Give every template the blueprint's views render the plugin's translation functions."""
        blueprint.context_processor(self.template_functions)
        return blueprint

    def render_template(self, template: str, **context: Any) -> str:
        """Render one of the plugin's templates outside its blueprints (e.g. in a template slot)."""
        return flask_render_template(template, **{**self.template_functions(), **context})


def _formatted(context: Context, text: str, variables: dict[str, Any]) -> str:
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables  # always formatted, as Flask-Babel's own template functions are


def _newstyle(translate: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(__context: Context, __string: str, **variables: Any) -> str:
        return _formatted(__context, translate(__string), variables)

    return gettext


def _newstyle_plural(translations: PluginTranslations) -> Callable[..., str]:
    @pass_context
    def ngettext(__context: Context, __singular: str, __plural: str, __num: int, **variables: Any) -> str:
        variables.setdefault("num", __num)
        text: str = translations._babel_domain().get_translations().ungettext(__singular, __plural, __num)
        return _formatted(__context, text, variables)

    return ngettext


def _newstyle_context(translations: PluginTranslations) -> Callable[..., str]:
    @pass_context
    def pgettext(__context: Context, __message_context: str, __string: str, **variables: Any) -> str:
        text: str = translations._babel_domain().get_translations().upgettext(__message_context, __string)
        return _formatted(__context, text, variables)

    return pgettext
