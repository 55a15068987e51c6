"""Mounting a plugin's routes, blocks and jobs, all or nothing.

The plugin's ``mallow_register_routes/blocks/jobs`` run first against recorders (its code, as the
plugin): nothing reaches the app yet, so a plugin that raises half-way leaves nothing behind.
Then Mallow commits what was recorded: jobs, blocks, routes. A commit refused half-way (a name
Mallow or another plugin has, an unknown area) takes the plugin's jobs and block types out of
the app's registries again. Blueprints cannot be taken out of a Flask app, so the routes are
checked before the first one is mounted; any mounted before a later one failed stay in the
guard's table and answer 404 everywhere (the plugin is not loaded, so no store has it enabled).
"""

from __future__ import annotations

import inspect

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask

from mallow.builder.blocks import types_of
from mallow.extensions import csrf
from mallow.jobs.registry import jobs_of
from mallow.plugin_host import blocks, jobs
from mallow.plugins.acting import acting_as
from mallow.plugins.routes import AREAS


class MountFailed(Exception):
    """A plugin's routes, blocks or jobs could not be registered (the plugin is not loaded)."""


@dataclass
class Recorded:
    routes: list[tuple[tuple, dict]] = field(default_factory=list)
    blocks: list[tuple[tuple, dict]] = field(default_factory=list)
    jobs: list[tuple[tuple, dict]] = field(default_factory=list)


def _recorder(calls: list, like: Callable) -> Callable:
    """A ``register`` that records its calls, with the signature of the real one (``like``): a
    plugin that inspects ``register`` sees what it will get, and a wrong call raises its
    TypeError at the plugin's call site, as the real one would."""
    signature = inspect.signature(like)

    def register(*args, **kwargs):
        signature.bind(*args, **kwargs)
        calls.append((args, kwargs))

    register.__signature__ = signature  # type: ignore[attr-defined]
    return register


def _only_this_plugin(manager, module, hook: str):
    return manager.subset_hook_caller(hook, remove_plugins=[p for p in manager.get_plugins() if p is not module])


def record(app: Flask, manager, name: str, module) -> Recorded:
    """Run the plugin's registration hooks as the plugin, recording what they register."""
    recorded = Recorded()
    with acting_as(name):
        _only_this_plugin(manager, module, "mallow_register_routes")(
            register=_recorder(recorded.routes, _route_arguments)
        )
        _only_this_plugin(manager, module, "mallow_register_blocks")(
            register=_recorder(recorded.blocks, blocks.registrar(app, name, module))
        )
        _only_this_plugin(manager, module, "mallow_register_jobs")(
            register=_recorder(recorded.jobs, jobs.registrar(app, name))
        )
    return recorded


def _mounted_name(name: str, blueprint, area) -> str:
    # the registered name ends with the area, so API areas are recognised as API requests
    return f"x_{name}_{getattr(blueprint, 'name', '?')}_{area}"


def _check_routes(app: Flask, name: str, calls: list) -> list[tuple[Blueprint, str]]:
    routes = []
    for args, kwargs in calls:
        try:
            blueprint, area = _route_arguments(*args, **kwargs)
        except TypeError as error:
            raise MountFailed(f"register(blueprint, area): {error}") from None
        if not isinstance(blueprint, Blueprint):
            raise MountFailed(f"register(blueprint, area): {blueprint!r} is not a Flask Blueprint")
        if area not in AREAS:
            raise MountFailed(f"unknown area {area!r}")
        mounted = _mounted_name(name, blueprint, area)
        if mounted in app.blueprints or any(_mounted_name(name, b, a) == mounted for b, a in routes):
            raise MountFailed(f"blueprint {blueprint.name!r} is registered twice in {area}")
        routes.append((blueprint, area))
    return routes


def _route_arguments(blueprint, area):
    return blueprint, area


def _mount_routes(app: Flask, name: str, routes: list[tuple[Blueprint, str]]) -> None:
    table = app.extensions["mallow.plugin_routes"]
    for blueprint, area in routes:
        mounted = _mounted_name(name, blueprint, area)
        if area.endswith("api"):
            if not blueprint._got_registered_once:
                app.extensions["mallow.plugin_json_errors"](blueprint)  # JSON errors, 422 for ValidationFailed
            csrf.exempt(blueprint)  # bearer tokens only, like the core API
        table[mounted] = (name, area, blueprint.name)  # first: the guard knows it before it can answer
        with acting_as(name):  # a blueprint's deferred setup functions are the plugin's code
            app.register_blueprint(blueprint, url_prefix=AREAS[area].format(name=name), name=mounted)


def commit(app: Flask, name: str, module, recorded: Recorded) -> None:
    """Register what the plugin recorded into the app; all of its jobs and blocks or none
    (raises :class:`MountFailed`)."""
    routes = _check_routes(app, name, recorded.routes)
    job_registry, block_registry = jobs_of(app), types_of(app)
    saved_jobs = dict(job_registry._jobs)  # the registries have no removal: restore on failure
    saved_types = dict(block_registry._types)
    plugin_jobs = app.extensions.setdefault("mallow.plugin_jobs", {})
    plugin_blocks = app.extensions.setdefault("mallow.plugin_blocks", {})
    saved_plugin_jobs, saved_plugin_blocks = dict(plugin_jobs), dict(plugin_blocks)
    try:
        register_job = jobs.registrar(app, name)
        for args, kwargs in recorded.jobs:
            register_job(*args, **kwargs)
        register_block = blocks.registrar(app, name, module)
        for args, kwargs in recorded.blocks:
            register_block(*args, **kwargs)
        _mount_routes(app, name, routes)
    except Exception as error:
        job_registry._jobs.clear()
        job_registry._jobs.update(saved_jobs)
        block_registry._types.clear()
        block_registry._types.update(saved_types)
        block_registry._changed()
        plugin_jobs.clear()
        plugin_jobs.update(saved_plugin_jobs)
        plugin_blocks.clear()
        plugin_blocks.update(saved_plugin_blocks)
        raise MountFailed(f"{type(error).__name__}: {error}") from error
