"""Plugin manager construction and fail-soft entry-point loading.

Loading is forgiving, validation is strict:

* a plugin whose import fails is named in one warning, listed as ``failed`` by
  ``luacoder plugins``, and the CLI works on (``LUACODER_STRICT_PLUGINS=1`` makes it an error);
* ``LUACODER_LOAD_PLUGINS`` limits loading to a comma list of plugin names (empty: none);
* a hook that no specification knows (a misspelling) or two plugins registering one component
  name is a :class:`~luacoder_core.errors.PluginError` naming the culprit.
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from luacoder_core import PROJECT_NAME, hookspecs
from luacoder_core.errors import PluginError
from luacoder_core.registry import Registry

ENTRY_POINT_GROUP = PROJECT_NAME
STRICT_ENV = "LUACODER_STRICT_PLUGINS"
LOAD_ENV = "LUACODER_LOAD_PLUGINS"

#: registry attribute -> (hook name, human name of one component)
COMPONENT_KINDS = {
    "converters": ("register_converters", "converter"),
    "trainers": ("register_trainers", "trainer"),
    "report_types": ("register_report_types", "report type"),
    "metrics": ("register_metrics", "metric"),
    "rewards": ("register_rewards", "reward"),
}


@dataclass
class PluginInfo:
    """What ``luacoder plugins`` shows for one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"  # loaded | failed
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "registered": self.registered,
        }


class Registries:
    """The component registries, filled by calling each plugin's ``register_*`` hooks."""

    def __init__(self) -> None:
        self.converters = Registry("converter")
        self.trainers = Registry("trainer")
        self.report_types = Registry("report type")
        self.metrics = Registry("metric")
        self.rewards = Registry("reward")

    def of(self, attr: str) -> Registry:
        return getattr(self, attr)


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that also keeps plugin infos and the component registries."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._registries: Registries | None = None
        self.strict = os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
        self.hook.addhooks.call_historic(kwargs={"pluginmanager": self})

    # pluggy calls this on every register/unregister; registries must then be rebuilt
    def register(self, plugin: object, name: str | None = None) -> str | None:
        result = super().register(plugin, name)
        self._registries = None
        pname = self.get_name(plugin)
        if pname is not None and pname not in self.infos:
            self.infos[pname] = PluginInfo(name=pname)
        return result

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        result = super().unregister(plugin, name)
        self._registries = None
        pname = name or (self.get_name(plugin) if plugin is not None else None)
        if pname in self.infos and self.infos[pname].status == "loaded":
            del self.infos[pname]
        return result

    def validate(self) -> None:
        """Reject a hook implementation that no specification knows (a misspelling).

        Run after all plugins are registered, so that specs added through ``addhooks`` by one
        plugin are known before another plugin's implementations are checked.
        """
        known = [n for n in dir(self.hook)
                 if not n.startswith("_") and getattr(self.hook, n).spec is not None]
        for pname, plugin in list(self.list_name_plugin()):
            for hookcaller in self.get_hookcallers(plugin) or []:
                if hookcaller.spec is not None:
                    continue
                close = difflib.get_close_matches(hookcaller.name, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise PluginError(
                    f"plugin '{pname}' implements unknown hook '{hookcaller.name}'{hint}"
                )

    def call_impl(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> bool:
        """Call one plugin's implementation of a set-up hook; a plugin whose hook raises is
        marked failed and named in a warning (an error under ``LUACODER_STRICT_PLUGINS``)."""
        try:
            impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            return True
        except PluginError:
            raise
        except Exception as exc:
            message = f"{hook_name} raised {type(exc).__name__}: {exc}"
            info = self.infos.get(impl.plugin_name)
            dist = f" ({info.distribution})" if info and info.distribution else ""
            if self.strict:
                raise PluginError(f"plugin '{impl.plugin_name}'{dist} failed: {message}") from exc
            if info is not None:
                info.status, info.error = "failed", message
            print(f"luacoder: warning: plugin '{impl.plugin_name}'{dist} failed: {message} "
                  f"(set {STRICT_ENV}=1 to make this an error)", file=sys.stderr)
            return False

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.get_plugin(name)
        if plugin is None:
            return []
        return sorted(h.name for h in self.get_hookcallers(plugin) or [])

    @property
    def registries(self) -> Registries:
        if self._registries is None:
            self._registries = self._collect()
        return self._registries

    def _collect(self) -> Registries:
        self.validate()
        registries = Registries()
        for attr, (hook_name, _kind) in COMPONENT_KINDS.items():
            registry = registries.of(attr)
            caller = getattr(self.hook, hook_name)
            for impl in caller.get_hookimpls():
                pending: list[tuple[str, Any]] = []

                def register(name: str, component: Any, _pending: list = pending) -> None:
                    _pending.append((name, component))

                if self.call_impl(impl, hook_name, {arg: register for arg in impl.argnames}):
                    for name, component in pending:
                        registry.add(name, component, impl.plugin_name)
        for pname, info in self.infos.items():
            if info.status != "loaded":
                continue
            info.hooks = self.hooks_of(pname)
            info.registered = {
                attr: registries.of(attr).by_plugin(pname)
                for attr in COMPONENT_KINDS
                if registries.of(attr).by_plugin(pname)
            }
        return registries

    def plugin_infos(self) -> list[PluginInfo]:
        _ = self.registries  # fills hooks/registered
        return sorted(self.infos.values(), key=lambda i: i.name)


def _selected(names_env: str | None, ep: metadata.EntryPoint) -> bool:
    if names_env is None:
        return True
    wanted = {n.strip() for n in names_env.split(",") if n.strip()}
    dist = ep.dist.name if ep.dist is not None else None
    return ep.name in wanted or (dist is not None and dist in wanted)


def load_entrypoint_plugins(pm: PluginManager, *, strict: bool | None = None,
                            only: str | None | bool = False, warn=None) -> None:
    """Import every ``luacoder`` entry point and register it; a failed import is recorded.

    :param strict: raise on a failed import (default: ``LUACODER_STRICT_PLUGINS``).
    :param only: comma list of plugin names to load (default: ``LUACODER_LOAD_PLUGINS``;
        ``None`` loads all).
    """
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    if only is False:
        only = os.environ.get(LOAD_ENV)
    if warn is None:
        def warn(msg: str) -> None:
            print(msg, file=sys.stderr)

    seen: set[str] = set()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen or not _selected(only, ep):
            continue
        seen.add(ep.name)
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # any import failure, a broken plugin must not take the CLI down
            message = f"{type(exc).__name__}: {exc}"
            if strict:
                raise PluginError(
                    f"plugin '{ep.name}' ({dist}) failed to load: {message}\n"
                    + "".join(traceback.format_exception(exc)[-3:])
                ) from exc
            pm.infos[ep.name] = PluginInfo(ep.name, dist, version, "failed", message)
            warn(f"luacoder: warning: plugin '{ep.name}' ({dist}) failed to load: {message} "
                 f"(set {STRICT_ENV}=1 to make this an error)")
            continue
        pm.register(plugin, name=ep.name)
        pm.infos[ep.name].distribution = dist
        pm.infos[ep.name].version = version


def make_plugin_manager(*, load_entrypoints: bool = True, **load_options: Any) -> PluginManager:
    """A plugin manager with luacoder's hook specifications and, by default, every installed
    plugin loaded from the ``luacoder`` entry-point group."""
    pm = PluginManager()
    if load_entrypoints:
        load_entrypoint_plugins(pm, **load_options)
    pm.validate()
    return pm
