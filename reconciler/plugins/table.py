"""The table of plug-ins a run works with: handed down from the front end, never imported below it.

The engine, the manifest loader and the use cases iterate over the table they are given, so a new
system is its own package plus one line in `reconciler.systems.PLUGINS` (pre-commit's
`all_languages`: one explicit table, no discovery).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from reconciler.core.kinds import CORE_KINDS, KindSpec
from reconciler.plan.health import CORE_RULES, HealthRules
from reconciler.plugins.base import Plugin


class PluginTable(Sequence[Plugin]):
    """The plug-ins, in the order their hooks run, and what the engine looks up in them by name."""

    def __init__(self, plugins: Sequence[Plugin]) -> None:
        self._plugins = tuple(plugins)
        self.kinds: Mapping[str, KindSpec] = {
            spec.kind: spec for spec in (*CORE_KINDS, *(k for p in self._plugins for k in p.kinds))}
        _refuse_shared_registration_blocks(self._plugins)
        self.by_principal_kind: Mapping[str, Plugin] = {
            kind: p for p in self._plugins for kind in p.principal_kinds}
        self.health: HealthRules = sum((p.health for p in self._plugins), CORE_RULES)
        self.endpoint_variables: Mapping[str, str] = {
            plane: variable for p in self._plugins for plane, variable in p.endpoint_variables.items()}
        self.plane_names: Mapping[str, str] = {
            plane: name for p in self._plugins for plane, name in p.plane_names.items()}
        self.credential_variables: Mapping[str, str] = {
            name: variable for p in self._plugins for name, variable in p.credential_variables.items()}

    def __getitem__(self, index: int) -> Plugin:  # type: ignore[override]
        return self._plugins[index]

    def __len__(self) -> int:
        return len(self._plugins)

    def __iter__(self) -> Iterator[Plugin]:
        return iter(self._plugins)


CLOUDS = frozenset({"azure", "aws"})


def _refuse_shared_registration_blocks(plugins: Sequence[Plugin]) -> None:
    """Two plug-ins may resolve the same registration block only in regions of different clouds."""
    taken: dict[tuple[str, str], str] = {}
    for plugin in plugins:
        for cloud in (plugin.registration_clouds or CLOUDS) if plugin.registration_key else ():
            holder = taken.setdefault((str(plugin.registration_key), cloud), plugin.name)
            if holder != plugin.name:
                raise ValueError(f"plug-ins {holder} and {plugin.name} both resolve {plugin.registration_key!r} "
                                 f"registrations in {cloud} regions")
