"""Fixtures of the journey tests (``test_journeys_browser.py``, ``test_plugin_journeys_browser.py``):
the demo store behind a real server, one Chromium per module, and the store's theme per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import demo_server, launch  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    yield from demo_server(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(demo):
    with launch() as browser:
        yield browser


@pytest.fixture
def theme(request, demo):
    """Parametrise indirectly with a theme name: the store wears it for the test, then default."""
    demo.set_theme(request.param)
    yield request.param
    demo.set_theme("default")
