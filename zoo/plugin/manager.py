"""Load candidates into a pluggy PluginManager, isolating every kind of failure.

A plugin that cannot be imported (or takes too long to), whose hook signature does not
match the spec, or that implements a hook the spec does not know, is reported and left
out; the rest load.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from zoo import hookspecs
from zoo.errors import PluginError
from zoo.errors import one_line
from zoo.plugin.discovery import Candidate
from zoo.plugin.guard import DEFAULT_TIMEOUT, PluginTimeout, time_limit


class PluginWarning(UserWarning):
    """A plugin was left out because it is broken."""


@dataclass
class PluginInfo:
    """What ``zoo plugins`` shows about one plugin."""

    name: str
    source: str
    distribution: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | broken | blocked
    error: str = ""

    @classmethod
    def of(cls, candidate: Candidate) -> PluginInfo:
        return cls(candidate.name, candidate.source, candidate.distribution,
                   candidate.version, candidate.builtin)


def mark_broken(info: PluginInfo, problem: str, strict: bool) -> None:
    """Record the failure; in strict mode it stops everything instead."""
    info.status, info.error, info.hooks = "broken", problem, []
    message = f"plugin '{info.name}' ({info.source}) is broken and was skipped: {problem}"
    if strict:
        raise PluginError(message.replace("and was skipped", "(strict mode)"))
    warnings.warn(message, PluginWarning, stacklevel=2)


def _check_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Hook names the plugin implements; an implementation without a spec is an error."""
    names = []
    for caller in pm.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            raise pluggy.PluginValidationError(plugin, f"unknown hook '{caller.name}' "
                                               f"(not in zoo.hookspecs)")
        names.append(caller.name)
    return sorted(names)


def load_plugins(candidates: Iterable[Candidate], blocked: Iterable[str] = (),
                 strict: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 ) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Import and register each candidate; return the manager and one info per candidate.

    Each import may take ``timeout`` seconds (see ``guard.time_limit``)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    blocked = set(blocked)
    infos = []
    for candidate in candidates:
        info = PluginInfo.of(candidate)
        infos.append(info)
        if candidate.name in blocked:
            info.status, info.error = "blocked", "blocked by configuration"
            continue
        if pm.has_plugin(candidate.name):
            mark_broken(info, f"another plugin is already called '{candidate.name}'", strict)
            continue
        try:
            with time_limit(timeout):
                plugin = candidate.load()
        except PluginTimeout:
            mark_broken(info, f"import timed out after {timeout:g} s", strict)
            continue
        except Exception as exc:  # a broken plugin must not break the CLI
            mark_broken(info, f"import failed: {one_line(exc, with_type=True)}", strict)
            continue
        try:
            pm.register(plugin, name=candidate.name)
            info.hooks = _check_hooks(pm, plugin)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            mark_broken(info, f"invalid hooks: {one_line(exc)}", strict)
    return pm, infos
