"""The API contract test's counts for the terminal summary (written by ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

#: the user_properties key of a summary line; pytest-xdist sends user_properties from its workers to
#: the controller with each report, so the summary has the counts with or without ``-n``
KEY = "api-contract"


@pytest.fixture
def contract_report(request):
    """Call with a line for the terminal summary (one per backend run of the contract test)."""
    return lambda line: request.node.user_properties.append((KEY, line))
