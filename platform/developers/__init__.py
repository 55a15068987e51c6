"""Third-party publishing: plugin developers upload built distributions to the platform.

* :mod:`.accounts` -- a developer signs up (the account itself is
  :class:`mallow.accounts.models.Developer`, beside merchants and admins);
* :mod:`.wheels` -- what an uploaded wheel must be (entry point, manifest, package, RECORD);
* :mod:`.names` -- a plugin name belongs to the developer who first published it;
* :mod:`.index` -- the platform's own package index on disk (PEP 503 layout);
* :mod:`.publishing` -- an upload becomes a ``submitted`` release for review;
* :mod:`.changes` -- what changed since the last approved version (the reviewer's and the
  developer's view);
* :mod:`.installer` -- an approved upload is installed into the plugin environment
  (``MALLOW_PLUGIN_DIR``), to be loaded on the next graceful reload;
* :mod:`.stats` -- how many stores enabled a plugin (a count, never which);
* :mod:`.publish_cli` -- ``mallow plugin publish``: build the wheel, upload it, print the status.

It sits just above the plugin host (it creates :class:`~mallow.plugin_host.models.PluginRelease`
rows) and below the developer console (:mod:`mallow.devconsole`), which is its only web face.
"""
