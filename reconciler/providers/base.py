"""The narrow seam between the engine and the control planes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.secrets import Secret

Live = dict[str, Any]


class ResourceHandler(Protocol):
    """Reads and writes one kind of object (see `reconciler.core.kinds` for the names).

    `read` returns the live attributes and outputs, or None when the object does not exist.
    `create` and `update` return the same shape after the change. Every SDK or HTTP error is
    translated to `reconciler.core.errors` types before it leaves the handler: `TransientError` for what
    may pass (throttling, 5xx, replication lag), `ProviderError` for the rest.
    """

    kind: str

    # Optional, not part of the Protocol: `prefetch(*, identities: Sequence[Mapping]) -> None`. A
    # handler that can answer many reads with one call (Graph's `appId in (...)`) offers it, and
    # `prefetch_batch: int`, how many it takes at once; the planner calls it with the identities of
    # up to that many reads of the kind, then `read` for each, which the handler serves from what it
    # fetched (reconciler.engine.refresh).
    #
    # Optional too: `read_declared(*, identity, attributes) -> Live | None`, for a handler whose
    # read of some attributes costs a call of its own (a key's rotation policy, on Key Vault's data
    # plane): the planner passes the declared attributes, and what is not declared is not read.

    def read(self, *, identity: Mapping[str, Any]) -> Live | None: ...

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live: ...

    def update(
        self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]
    ) -> Live: ...


@dataclass(frozen=True)
class Endpoints:
    """Where each control plane is; overridden for sovereign clouds and the sandbox."""

    arm: str = "https://management.azure.com"
    graph: str = "https://graph.microsoft.com"
    astra: str = "https://api.astra.datastax.com"
    confluent: str = "https://api.confluent.cloud"
    aws: str | None = None
    # A CA bundle to trust instead of the system's (the sandbox's own CA).
    ca_bundle: str | None = None


@dataclass(frozen=True)
class Connection:
    """Everything a provider needs to reach its plane. Built once per run by the CLI."""

    endpoints: Endpoints
    astra_token: Secret | None = None
    # A Confluent Cloud API key and its secret (HTTP Basic auth).
    confluent_api_key: Secret | None = None
    confluent_api_secret: Secret | None = None
    # An AWS access key ID and secret for the sandbox's moto; None: boto3's default chain.
    aws_static_keys: tuple[str, Secret] | None = None
    # Returns an azure-core TokenCredential; called lazily so validate never builds one.
    azure_credential: Callable[[], Any] | None = None
    # Seconds between long-running-operation polls (the SDKs default to 30).
    polling_interval: float = 30.0
    sandbox: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
