"""Reading live state for a plan: each object as soon as what its read needs is known.

A read waits only for what it truly needs: its parent (a key is not looked for in a vault that does
not exist) and the objects whose outputs its identity names (a role assignment needs its
principal's object ID). Apply order (`depends_on`: a registration after its grants) does not hold
reads back, so the longest chain of dependent reads is the only serial part.

Reads start longest chain first: of the reads that are ready, the one with the longest chain of
reads waiting behind it (vault -> key -> BYOK key -> principal -> assignment) goes before an
identity or a cluster that nothing waits for.

Handlers that can answer many reads with one call offer `prefetch(identities=...)` and say how
many it takes (`prefetch_batch`; Graph looks up 15 service principals per request): ready reads
of such a kind wait until a batch is full or nothing more of their kind can become ready, are
prefetched as one group, then read from the handler's cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from reconciler.core.errors import CmkError, CredentialError, ProviderError, in_context
from reconciler.core.retry import RetryPolicy
from reconciler.engine.schedule import Batching, Outcome, Scheduler, longest_chain_first
from reconciler.plan.model import Resource, Unknown
from reconciler.providers.base import BatchReads, Capability, Live, ResourceHandler

LiveState = dict[str, Live | None]
# What failing one read may raise and leave the others to go on: the object's plane refused or failed
# it, or its credentials did. Anything else (another account, a bug, Ctrl-C) stops the refresh.
READ_FAILURES = (ProviderError, CredentialError)


def unknown_sources(value: Any) -> set[str]:
    """Addresses whose outputs `value` still waits for."""
    if isinstance(value, Unknown):
        return {value.address}
    if isinstance(value, Mapping):
        return {a for v in value.values() for a in unknown_sources(v)}
    if isinstance(value, list | tuple):
        return {a for v in value for a in unknown_sources(v)}
    return set()


def read_dependencies(resource: Resource) -> set[str]:
    """What must be read before `resource` can be: its parent and the sources of its identity."""
    return ({resource.parent} if resource.parent else set()) | unknown_sources(resource.identity)


@dataclass
class Refresh:
    handlers: Mapping[str, ResourceHandler]
    parallelism: int
    retry: RetryPolicy
    # Reads one resource given what is known so far (None: absent, or not readable yet).
    read: Callable[[Resource, LiveState], Live | None]
    # Turns a resource's identity into the one its handler is asked about, or None when unreadable.
    identity: Callable[[Resource, LiveState], Mapping[str, Any] | None]
    # address -> why it could not be read; when given, a failed read is kept here instead of failing
    # the whole refresh (a health check reports it against the paths through it and reads on).
    unread: dict[str, str] | None = None

    def run(self, resources: Iterable[Resource], known: LiveState) -> LiveState:
        by_address = {r.address: r for r in resources}
        live: LiveState = dict(known)
        failures: list[str] = []

        def failed(address: str, error: BaseException) -> None:
            if not isinstance(error, READ_FAILURES):
                raise error  # the scheduler starts no more reads; the error goes to the CLI's boundary
            self._failed(address, error, failures)

        def skipped(address: str, failed: str) -> None:
            failures.append(f"{address} not read: {failed} failed")
            if self.unread is not None:
                self.unread.setdefault(address, f"not read: {failed} could not be read")

        Scheduler[Live](
            visit=lambda group: self._visit([by_address[a] for a in group], live),
            parallelism=self.parallelism,
            on_failure=failed,
            on_skip=skipped,
            on_done=live.__setitem__,
            priority=longest_chain_first,
            batching=Batching(key=lambda address: by_address[address].kind, sizes=self._batch_sizes()),
        ).run({a: read_dependencies(r) for a, r in by_address.items()})
        if failures and self.unread is None:
            raise ProviderError("could not read live state:\n  " + "\n  ".join(failures))
        return live

    def _batch_sizes(self) -> dict[str, int]:
        """Kinds whose handler prefetches (Graph: 15 service principals per request) and how many at once."""
        return {kind: int(cast(BatchReads, h).prefetch_batch or 0) or 10**9
                for kind, h in self.handlers.items() if Capability.BATCH_READ in h.capabilities}

    def _failed(self, address: str, error: BaseException, failures: list[str]) -> None:
        failures.append(in_context(f"reading {address}", error))
        if self.unread is not None:
            self.unread[address] = str(error)

    def _visit(self, group: list[Resource], live: LiveState) -> list[Outcome[Live]]:
        if len(group) > 1:
            self._prefetch(group, live)
        outcomes: list[Outcome[Live]] = []
        for resource in group:
            try:
                outcomes.append((resource.address, self.read(resource, live), None))
            except READ_FAILURES as error:  # reported per object, as a failed read
                outcomes.append((resource.address, None, error))
        return outcomes

    def _prefetch(self, group: list[Resource], live: LiveState) -> None:
        handler = cast(BatchReads, self.handlers[group[0].kind])
        identities = [i for i in (self.identity(r, live) for r in group) if i is not None]
        if not identities:
            return
        # On failure each read then asks on its own, and reports its own error.
        with contextlib.suppress(CmkError):
            self.retry.call(lambda: handler.prefetch(identities=identities),
                            what=f"looking up {len(identities)} {group[0].kind}")
