"""Registries of named components that remember which plugin registered what."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from luacoder_core.errors import PluginError


@dataclass(frozen=True)
class Entry:
    name: str
    component: Any
    plugin: str


class Registry:
    """Named components of one kind (``converter``, ``trainer``, ``report type``, ``metric``,
    ``reward``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, component: Any, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin '{plugin}' registered a {self.kind} with an invalid name {name!r}")
        if name in self._entries:
            first = self._entries[name].plugin
            raise PluginError(
                f"{self.kind} '{name}' is registered twice: by plugin '{first}' and by plugin "
                f"'{plugin}'; uninstall one of them or limit plugins with LUACODER_LOAD_PLUGINS"
            )
        self._entries[name] = Entry(name, component, plugin)

    def get(self, name: str) -> Any:
        return self._entries[name].component

    def entry(self, name: str) -> Entry:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(e.name for e in self._entries.values() if e.plugin == plugin)
