"""The error types that cross layers.

The class decides what happens next: the CLI maps `exit_code`, the executor retries
`TransientError` and nothing else. SDK exceptions are translated into these at the provider seam.
"""

from __future__ import annotations

from collections.abc import Sequence

# Diagnostic lives in reconciler.core.diagnostics; named here too, where the loader's errors carry it.
from reconciler.core.diagnostics import SUMMARY_LIMIT as SUMMARY_LIMIT
from reconciler.core.diagnostics import Diagnostic as Diagnostic


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
    """A call that may succeed later: throttling, a 5xx, a dropped connection.

    `awaited` names the retry budget that bounds the wait (`reconciler.core.retry.WaitBudgets`);
    `awaiting`, what is waited for, in words ("principal P to reach Azure RBAC"), for the progress
    shown and the message when the budget ends.
    """

    awaited = "transient"

    def __init__(
        self,
        message: str,
        *,
        plane: str = "",
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        awaiting: str = "",
    ) -> None:
        super().__init__(message, plane=plane, code=code, status=status)
        self.retry_after = retry_after
        self.awaiting = awaiting


class PrincipalPendingError(TransientError):
    """A principal made moments ago is not yet visible where it is used (Azure RBAC's PrincipalNotFound)."""

    awaited = "principal"


class GrantPendingError(TransientError):
    """A grant made moments ago does not take effect yet: a service is refused the key, or is still
    validating that it can use it (Confluent's INITIALIZING)."""

    awaited = "grant"


class KeyAccessPendingError(GrantPendingError):
    """A key vault refused a service access to a key, most likely while a new grant propagates: the
    service's long-running operation ended Failed with a key-access code (Mongo vCore, Managed
    Cassandra), or it refused the request with 403 (Confluent).

    A missing grant looks the same on the wire: the grant budget bounds how long it is waited for.
    """


def awaiting(error: TransientError, what: str) -> TransientError:
    """`error`, saying what it waits for unless it already does."""
    if not error.awaiting:
        error.awaiting = what
    return error


# Codes a consuming service answers with when the key vault refuses it: ARM's (Azure Compute's disk
# encryption sets fail with it; Mongo vCore's and Managed Cassandra's own are not published, README,
# "Retries and waits"). Confluent says so in its key's validation instead (providers/confluent.py).
KEY_ACCESS_CODES = frozenset({"KeyVaultAccessForbidden"})


def is_key_access_refusal(status: int | None, code: str, message: str) -> bool:
    """A 403 that says the key vault refused a service access, not that the caller lacks a role."""
    if status != 403:
        return False
    text = message.lower()
    return code in KEY_ACCESS_CODES or (code == "Forbidden" and "key vault" in text and "not accessible" in text)


def is_key_access_failure(code: str) -> bool:
    """A long-running operation that failed because its service could not use the key."""
    return code in KEY_ACCESS_CODES


def in_context(context: str, error: BaseException) -> str:
    """`context: error`, unless the error's message already begins with that context (retries add it)."""
    text = str(error)
    return text if text.startswith(f"{context}:") else f"{context}: {text}"


class CredentialError(CmkError):
    """Credentials are missing or rejected."""


class GuardError(CmkError):
    """The caller is not in the account the manifest names."""

    exit_code = 3


class StalePlanError(CmkError):
    """A saved plan no longer matches the manifests or live state, or was altered."""


class UnreviewedPlanError(StalePlanError):
    """A saved plan's steps are not the ones planned again from the same manifests and live state."""


class ManifestError(CmkError):
    """The manifests are invalid; every problem found is carried, not just the first."""

    exit_code = 3

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class ForbiddenError(CmkError):
    """A vendor rule forbids the plan; nothing was changed."""

    exit_code = 3
