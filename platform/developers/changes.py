"""What changed in a release since the last approved version of the plugin: the files of its
package added, changed and removed (by their hashes). The developer sees it on the release page
and in the API; the version compared with is the one the reviewer's page compares with
(:func:`mallow.plugin_host.review.last_approved`)."""

from __future__ import annotations

from mallow.plugin_host.fingerprint import changed, package_files
from mallow.plugin_host.models import PluginRelease
from mallow.plugin_host.review import last_approved, package_of


def since_approved(release: PluginRelease) -> dict:
    """``{"base": version or None, "added": […], "changed": […], "removed": […]}``; without an
    approved version before it, every file is new."""
    base = last_approved(release)
    before = package_files(base.files or {}, package_of(base)) if base else {}
    difference = changed(before, package_files(release.files or {}, package_of(release)))
    return {"base": base.version if base else None, **difference}
