"""The API contract test's counts in the terminal summary (CI runs without ``-s``)."""
from __future__ import annotations

import pytest

_REPORT = pytest.StashKey[list]()


@pytest.fixture
def contract_report(request) -> list:
    """Lines for the terminal summary (one per backend run of the contract test)."""
    return request.config.stash.setdefault(_REPORT, [])


def pytest_terminal_summary(terminalreporter, config):
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("API contract (schemathesis)")
        for line in lines:
            terminalreporter.write_line(line)
