"""What the loader asks of each plug-in it is handed: the manifest never imports the plug-ins' table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from reconciler.core.errors import Diagnostic
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import KeySet, Region, Registration
from reconciler.manifest.yamlsource import JsonPath


class ManifestPlugin(Protocol):
    """A plug-in's part of loading a manifest: its registration block, its principal kinds, its rules."""

    @property
    def registration_key(self) -> str | None: ...

    @property
    def registration_clouds(self) -> frozenset[str]: ...

    @property
    def principal_kinds(self) -> frozenset[str]: ...

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None: ...

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None: ...

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]: ...
