"""Fake plugin distributions for the plugin platform's tests.

``fake_plugins.add(name, code, …)`` writes what pip would install into a folder on ``sys.path``
(the test kit's :class:`mallow.testing.builders.PluginBuilder`, which plugin authors get as
``mallow.sdk.testing.build_plugin``). The folder leaves ``sys.path`` (and its modules
``sys.modules``) at the end of the test module.
"""

from __future__ import annotations

import pytest

from mallow.testing.builders import PluginBuilder as FakePlugins
from mallow.testing.builders import build_plugin

__all__ = ["FakePlugins", "fake_plugins"]


@pytest.fixture(scope="module")
def fake_plugins(tmp_path_factory):
    with build_plugin(tmp_path_factory) as fakes:
        yield fakes
