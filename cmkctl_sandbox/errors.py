"""The emulator's own failures. cmkctl's `sandbox` commands and its run start-up translate them to
cmkctl's errors; the emulator itself knows nothing of cmkctl's exit codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SandboxError(Exception):
    """A failure the user can act on; its message is meant to be shown as is, without a traceback."""


class SandboxBusy(SandboxError):
    """Another emulator already serves this DIR."""


class SandboxExtraMissing(SandboxError):
    """An emulator package is not installed."""


class UntrustedSandbox(SandboxError):
    """The emulator a folder names cannot be shown to be the one the user started."""


@dataclass(frozen=True)
class Problem:
    """One problem found in world.yaml."""

    file: str
    field: str
    summary: str

    def render(self) -> str:
        return f"{self.file}: {self.field}: {self.summary}" if self.field else f"{self.file}: {self.summary}"


class WorldError(SandboxError):
    """world.yaml is malformed; every problem found is listed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))
