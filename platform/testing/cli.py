"""Running ``mallow`` commands against an app in a test, as an operator would at a shell."""

from __future__ import annotations


def run_cli(app, *args: str, code: int = 0) -> str:
    """Run ``mallow <args>`` on ``app`` (click's runner, no subprocess); the exit code must be
    ``code``; returns what the command printed."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from mallow.cli import main

    result = CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == code, result.output
    return result.output


def listed_line(output: str, name: str) -> str:
    """The line of ``mallow plugin list`` (or any table printed by name first) for ``name``."""
    return next(line for line in output.splitlines() if line.startswith(name + " "))
