"""A run's configuration from its environment, read once by the front end and handed down.

Nothing below the command line reads the process's environment (`tests/test_settings.py` holds
every module to it): the endpoints, credentials and keys each plane and plug-in names, and the
variables a manifest names for the passwords a create sends, are looked up here, in the copy the
front end took when the command began, so a run sees one environment however long it lasts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from reconciler.core.secrets import Secret

STATE_DIR_VARIABLE = "CMKCTL_STATE_DIR"


@dataclass(frozen=True)
class Settings:
    # A read-only copy of the variables the command began with.
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Settings:
        """The settings of a command, from the environment it was started with (the front end's call)."""
        return cls(MappingProxyType(dict(environ)))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.variables.get(name, default)

    def secret(self, name: str) -> Secret | None:
        """A credential or key held in `name`; unset or empty: none."""
        value = self.variables.get(name)
        return Secret(value) if value else None

    def state_directory(self) -> Path:
        """Where cmkctl keeps its local state: `CMKCTL_STATE_DIR`, else the XDG state folder."""
        explicit = self.variables.get(STATE_DIR_VARIABLE)
        if explicit:
            return Path(explicit)
        state = self.variables.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state) / "cmkctl"
