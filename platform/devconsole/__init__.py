"""The plugin developer's face of the platform: pages (``/dev/…``, :mod:`.views`) and the
platform's PEP 503 package index of approved uploads (``/simple/``, :mod:`.simple`). Its JSON API
for ``mallow plugin publish`` (``/dev/api/…``, bearer tokens with the ``dev_`` prefix) is declared
through the API registry like every other API: :mod:`mallow.api.developers`.
The work is done by :mod:`mallow.developers`; a developer sees their own plugins and releases
and how many stores enabled each plugin, never which stores nor any store's data."""
