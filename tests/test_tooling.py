"""The code's own checks run with the tests: ruff's lint rules and formatting (configured in
``pyproject.toml``, ``[tool.ruff]``) hold for every Python file of the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_passes():
    result = _ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted_by_ruff():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, "run `.venv/bin/ruff format .`:\n" + result.stdout + result.stderr


def test_mypy_passes_on_the_sdk_hookspecs_and_pricing():
    # which modules, how strictly and how mypy finds `mallow`: [tool.mypy] in pyproject.toml
    mypy = Path(sys.executable).with_name("mypy")
    result = subprocess.run([str(mypy)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "run `.venv/bin/mypy`:\n" + result.stdout + result.stderr
