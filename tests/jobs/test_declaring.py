"""Declaring a job registers it nowhere: ``create_app`` installs the job modules it lists into
the app's own registry, and a module imported later changes no app."""

from __future__ import annotations

import importlib.util

import pytest
from flask import Flask

from mallow.jobs import registry
from mallow.jobs.registry import UnknownJob, execute, jobs_of

MODULE = """
from mallow.jobs import job, store_sweep


@job("tests.declared.ping")
def ping():
    return "pong"


@store_sweep("tests.declared", every_seconds=90)
def sweep(store, now):
    return store.id
"""


def _import(tmp_path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(MODULE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_importing_a_module_that_declares_jobs_changes_no_app(app, tmp_path):
    before = jobs_of(app).registered()
    module = _import(tmp_path, "declares_jobs")
    assert jobs_of(app).registered() == before
    assert "tests.declared.sweep" not in jobs_of(app).periodic()
    with pytest.raises(UnknownJob):
        execute(app, "tests.declared.ping", {})
    # an app that installs the module has its jobs, the sweep's schedule included
    other = Flask(__name__)
    registry.init_app(other, [module])
    assert set(jobs_of(other).registered()) == {
        "tests.declared.ping",
        "tests.declared.sweep",
        "tests.declared.sweep_store",
    }
    assert jobs_of(other).periodic() == {"tests.declared.sweep": 90.0}
    assert jobs_of(other).spec_of("tests.declared.sweep_store").idempotent
    assert jobs_of(other).check_call("tests.declared.ping", {}).func() == "pong"


def test_a_name_is_one_job_in_an_app(tmp_path):
    module = _import(tmp_path, "declares_jobs_twice")
    other = Flask(__name__)
    jobs = registry.init_app(other, [module, module])  # the same declarations again: nothing new
    with pytest.raises(ValueError, match="twice"):
        jobs.add(registry.JobSpec("tests.declared.ping", lambda: None, store=False))
