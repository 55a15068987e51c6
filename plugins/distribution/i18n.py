"""The plugin's own translations: its Babel domain ``mallow_distribution`` and the catalogues in
``translations/`` (refreshed by Mallow's ``scripts/i18n``). Python code uses ``_`` / ``_l``
from here; the templates its blueprints render get the same ``_()`` (``translations.install``)."""

from mallow.sdk import PluginTranslations

translations = PluginTranslations(__name__)
_ = gettext = translations.gettext
_l = lazy_gettext = translations.lazy_gettext
ngettext = translations.ngettext
