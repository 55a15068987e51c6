"""Helpers of the observability tests: reading /metrics as Prometheus would, and changing the
shared app's settings for the duration of one test."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests-0123456789"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: not loopback, not allowed by default


@contextmanager
def settings(app, **values):
    missing = object()
    saved = {name: app.config.get(name, missing) for name in values}
    app.config.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                app.config.pop(name, None)
            else:
                app.config[name] = value


def scrape(app) -> list:
    """Every sample of /metrics, parsed with prometheus_client's own parser (as the operator's
    Prometheus reads it: with the bearer token, from outside)."""
    with settings(app, MALLOW_METRICS_TOKEN=TOKEN):
        response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=OUTSIDE)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return [
        sample
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    ]


def value(samples, name: str, **labels) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(name="scrape")
def scrape_fixture():
    """``scrape(app)``: the samples of /metrics (the test modules run with --import-mode=importlib:
    they take the helpers as fixtures)."""
    return scrape


@pytest.fixture(name="value")
def value_fixture():
    """``value(samples, name, **labels)``: a figure of a scrape."""
    return value


@pytest.fixture(name="settings")
def settings_fixture():
    """``with settings(app, NAME=value):`` the shared app's config, changed for the block."""
    return settings
