"""The error types that cross layers.

The class decides what happens next: the CLI maps `exit_code`, the executor retries
`TransientError` and nothing else. SDK exceptions are translated into these at the provider seam.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CmkError(Exception):
    """A failure the user can act on; its message is shown as is, without a traceback."""

    exit_code = 1


class ProviderError(CmkError):
    """A control plane refused or failed a call, and trying again will not help."""

    def __init__(self, message: str, *, plane: str = "", code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.plane = plane
        self.code = code
        self.status = status


class TransientError(ProviderError):
    """A call that may succeed later: throttling, a 5xx, replication lag."""

    def __init__(
        self,
        message: str,
        *,
        plane: str = "",
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, plane=plane, code=code, status=status)
        self.retry_after = retry_after


class CredentialError(CmkError):
    """Credentials are missing or rejected."""


class GuardError(CmkError):
    """The caller is not in the account the manifest names."""

    exit_code = 3


class StalePlanError(CmkError):
    """A saved plan no longer matches the manifests or live state, or was altered."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the input, located as precisely as the loader could."""

    file: str
    line: int | None
    field: str
    summary: str
    rule: str = ""

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}:{field} {self.summary}{rule}"


class ManifestError(CmkError):
    """The manifests are invalid; every problem found is carried, not just the first."""

    exit_code = 3

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class ForbiddenError(CmkError):
    """A vendor rule forbids the plan; nothing was changed."""

    exit_code = 3
