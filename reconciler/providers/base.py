"""The narrow seam between the engine and the control planes."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from reconciler.core.clock import SYSTEM_CLOCK, Clock
from reconciler.core.errors import GrantPendingError, awaiting
from reconciler.core.secrets import Secret

Live = dict[str, Any]


class Capability(enum.Enum):
    """What a handler does beyond read, create and update: declared in `capabilities`, never probed.
    Each names the protocol below that the handler then also implements."""

    # `BatchReads`: many reads answered by one call (Graph's `appId in (...)`).
    BATCH_READ = "batch-read"
    # `ReadsDeclared`: a read given the declared attributes, so that what is not declared is not read.
    READS_DECLARED = "reads-declared"
    # `ReportsNameHolder`: who holds the name of an object that does not exist (a soft-deleted vault).
    REPORTS_NAME_HOLDER = "reports-name-holder"
    # `ForgetsReads`: what it found this run is forgotten, so a watch's next cycle reads afresh.
    FORGETS_READS = "forgets-reads"


class ResourceHandler(Protocol):
    """Reads and writes one kind of object (see `reconciler.core.kinds` for the names).

    `read` returns the live attributes and outputs, or None when the object does not exist.
    `create` and `update` return the same shape after the change. Every SDK or HTTP error is
    translated to `reconciler.core.errors` types before it leaves the handler: `TransientError` for what
    may pass (throttling, 5xx, replication lag), `ProviderError` for the rest.
    """

    kind: str
    capabilities: frozenset[Capability]

    def read(self, *, identity: Mapping[str, Any]) -> Live | None: ...

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live: ...

    def update(
        self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]
    ) -> Live: ...


class BatchReads(ResourceHandler, Protocol):
    """The planner calls `prefetch` with the identities of up to `prefetch_batch` reads of the kind,
    then `read` for each, which the handler serves from what it fetched (reconciler.engine.refresh)."""

    prefetch_batch: int

    def prefetch(self, *, identities: Sequence[Mapping[str, Any]]) -> None: ...


class ReadsDeclared(ResourceHandler, Protocol):
    """For a handler whose read of some attributes costs a call of its own (a key's rotation policy,
    on Key Vault's data plane): the planner passes the declared attributes."""

    def read_declared(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live | None: ...


class ReportsNameHolder(ResourceHandler, Protocol):
    def held(self, *, identity: Mapping[str, Any]) -> Live | None: ...


class ForgetsReads(ResourceHandler, Protocol):
    def forget_all(self) -> None: ...


@dataclass(frozen=True)
class HostRoute:
    """Connections to the hosts under a DNS suffix go to a loopback address and port instead of the
    address DNS gives, as curl's `--resolve` sends them, while TLS verifies, and the Host header
    names, the host asked for (`https://v.vault.azure.net/` reached at 127.0.0.1:PORT)."""

    suffix: str   # ".vault.azure.net": hosts ending so
    address: str  # a loopback address: nothing else may be routed to
    port: int

    def serves(self, host: str) -> bool:
        return host.lower().endswith(self.suffix.lower()) and len(host) > len(self.suffix)


@dataclass(frozen=True)
class Endpoints:
    """Where each control plane is: the real ones by default; sovereign clouds and the emulator give others."""

    arm: str = "https://management.azure.com"
    graph: str = "https://graph.microsoft.com"
    # None: botocore's own endpoint for each region.
    aws: str | None = None
    # A CA bundle to trust instead of the system's (the emulator's own CA).
    ca_bundle: str | None = None
    # Host mappings (the emulator's vaults); empty for a real run.
    routes: tuple[HostRoute, ...] = ()
    # The planes the plug-ins declare, by the name each gives its plane; a plane not named here is at
    # the plug-in's own default.
    planes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def plane(self, name: str, default: str) -> str:
        """Where the plug-in plane `name` is: as configured, else the plug-in's `default`."""
        return self.planes.get(name, default)


@dataclass(frozen=True)
class Connection:
    """Everything a provider needs to reach its plane, injected: where, whom to trust, the credential of
    each plane, and the clock every wait goes through. Built once per run; a real run and an emulator
    run differ in these values only."""

    endpoints: Endpoints
    # The plug-ins' credentials, by the names each declares (`Plugin.credential_variables`).
    credentials: Mapping[str, Secret] = field(default_factory=dict, hash=False)
    # An AWS access key ID and secret; None: boto3's default chain.
    aws_static_keys: tuple[str, Secret] | None = None
    # Returns an azure-core TokenCredential; called lazily so validate never builds one.
    azure_credential: Callable[[], Any] | None = None
    clock: Clock = field(default=SYSTEM_CLOCK)

    def credential(self, name: str) -> Secret | None:
        """The credential a plug-in declared as `name`, None when the environment gave none."""
        return self.credentials.get(name)


@contextmanager
def grant_awaited(key_uri: Any, subject: str = "") -> Iterator[None]:
    """Inside, a service refused the key while a grant propagates says which vault's grant is awaited."""
    try:
        yield
    except GrantPendingError as error:
        host = urlsplit(str(key_uri or "")).hostname or ""
        vault = f"vault {host.split('.')[0]}" if host else "the key's vault"
        awaiting(error, f"the grant on {vault} to reach Key Vault" + (f" ({subject})" if subject else ""))
        raise
