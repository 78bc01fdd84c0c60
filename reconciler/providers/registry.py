"""Which handler serves which kind: an explicit table, built once per run.

The core's kinds (vaults, keys, grants, identities, service principals, KMS keys) are built here;
each plug-in it is handed builds its own from the shared plumbing (`Plumbing`). Nothing here talks
to a cloud: SDK clients and tokens are made on first use, so a plan that touches no Azure plane
never imports azure, and `validate` never builds a credential.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

from reconciler.core.clock import SYSTEM_CLOCK, Clock
from reconciler.core.errors import CredentialError
from reconciler.manifest.model import Accounts
from reconciler.providers.aws_kms import AwsSession, KmsKeyHandler
from reconciler.providers.azure_access_policy import AccessPolicyHandler
from reconciler.providers.azure_authorization import RoleAssignmentHandler
from reconciler.providers.azure_common import AzureSession
from reconciler.providers.azure_keyvault import KeyHandler, VaultHandler
from reconciler.providers.azure_msi import UserAssignedIdentityHandler
from reconciler.providers.base import Capability, Connection, ForgetsReads, ResourceHandler
from reconciler.providers.cache import RunCache
from reconciler.providers.graph import GraphClient, ServicePrincipalHandler
from reconciler.providers.https import require_https
from reconciler.providers.plumbing import BuildsHandlers, PlaneHandlers, Plumbing, plane_http
from reconciler.providers.transport import checked_routes


@dataclass(frozen=True)
class Clients:
    """The run's clients, shared by the handlers and the unmanaged report so that a list one of
    them fetched (role assignments, a plug-in's registrations, a vault's keys) is not fetched again
    by the other. `planes`: each plug-in's own, by the name it gives them."""

    azure: AzureSession
    graph: GraphClient
    planes: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Handlers:
    """The run's handlers by kind. Close it (or use `with`) at the end of the run to release pooled
    connections."""

    by_kind: dict[str, ResourceHandler]
    clients: Clients
    aws: AwsSession | None = None
    # The run's clock (the Connection's): the retry policy waits on it.
    clock: Clock = SYSTEM_CLOCK
    # plane -> its credential check, in the order failures are told
    checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    caches: list[RunCache] = field(default_factory=list)
    listings: dict[str, Callable[..., list[Any]]] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _warming: list[threading.Thread] = field(default_factory=list, repr=False)

    def warm_up(self, *, azure: bool, aws_regions: Sequence[str]) -> None:
        """Load the cloud SDKs and build their clients in the background, while the run's first
        reads (Astra's look-ups) wait on the network: ~1 s of CPU that every Azure and AWS read
        would otherwise wait behind. A failure here is left for the read that meets it."""

        def warm() -> None:
            with contextlib.suppress(Exception):
                if azure:
                    self.clients.azure.credential()
                if aws_regions and self.aws is not None:
                    self.aws.warm_up(aws_regions)

        if azure or aws_regions:
            # Both SDKs import urllib3; imported by the warm-up and a reader thread at once, its
            # modules' import locks can meet in a cycle, which Python breaks by failing one import
            # ("deadlock detected by _ModuleLock('urllib3.util.connection')", seen once in a fleet
            # plan). Imported here first, it is whole before any thread asks for it (~30 ms).
            import urllib3  # noqa: F401

            thread = threading.Thread(target=warm, name="cmkctl-warm-up", daemon=True)
            thread.start()
            self._warming.append(thread)

    def forget_reads(self) -> None:
        """Forget what this run listed and found, keeping its clients and connections: a watch's next
        cycle reads everything afresh once, on the same connections."""
        for cache in (self.clients.azure.lists, *self.caches):
            cache.forget_all()
        for handler in self.by_kind.values():
            if Capability.FORGETS_READS in handler.capabilities:
                cast(ForgetsReads, handler).forget_all()

    def check_credentials(self, planes: Collection[str]) -> None:
        """Fail at once, one line per plane, when a plane the run needs has no credentials: an
        authentication failure is permanent, and retrying every read of a plan only hides it."""
        checks = {"azure": self.clients.azure.check_credential, **self.checks}
        if self.aws is not None:
            checks["aws"] = self.aws.check_credentials
        wanted = [check for plane, check in checks.items() if plane in planes]
        with ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="cmkctl-credentials") as pool:
            failures = [message for message in pool.map(_failure_of, wanted) if message]
        if failures:
            lines = "\n".join(f"  - {message}" for message in failures)
            raise CredentialError(f"no usable credentials; nothing was read or changed:\n{lines}")

    def close(self) -> None:
        for thread in self._warming:
            thread.join()
        for close in self._closers:
            close()

    def __enter__(self) -> Handlers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _failure_of(check: Callable[[], None]) -> str:
    try:
        check()
    except CredentialError as error:
        return str(error)
    return ""


def build_handlers(connection: Connection, accounts: Accounts, plugins: Sequence[BuildsHandlers], *,
                   variables: Mapping[str, str] | None = None) -> Handlers:
    """Every kind's handler for one run: the core's, then each plug-in's.

    `accounts` are those the manifests name: handlers refuse (GuardError) to act on an identity in
    another subscription, AWS account or plug-in's account.
    """
    endpoints = connection.endpoints
    for plane, url in (("arm", endpoints.arm), ("graph", endpoints.graph)):
        require_https(url, plane=plane)  # refuse a plain-http endpoint before anything runs
    checked_routes(endpoints.routes)
    graph_http = plane_http(connection, "graph", endpoints.graph)
    session = AzureSession(connection, subscription_id=accounts.azure_subscription_id)
    closers: list[Callable[[], None]] = [graph_http.close, session.close]
    try:
        aws = AwsSession(connection, account_id=accounts.aws_account_id)  # refuses a plain-http endpoint here
        closers.append(aws.close)
        graph = GraphClient(graph_http.get, session, base_url=endpoints.graph)
        by_kind: dict[str, ResourceHandler] = {
            "azure_vault": VaultHandler(session),
            "azure_key": KeyHandler(session),
            "azure_role_assignment": RoleAssignmentHandler(session),
            "azure_access_policy": AccessPolicyHandler(session),
            "azure_user_assigned_identity": UserAssignedIdentityHandler(session),
            "azuread_service_principal": ServicePrincipalHandler(graph),
            "aws_kms_key": KmsKeyHandler(aws),
        }
        built = PlaneHandlers()
        for plugin in plugins:
            own = plugin.build_handlers(Plumbing(connection, session, accounts, variables or {}))
            closers += own.closers
            built = PlaneHandlers({**built.by_kind, **own.by_kind}, {**built.clients, **own.clients},
                                  {**built.checks, **own.checks}, [*built.caches, *own.caches],
                                  listings={**built.listings, **own.listings})
    except BaseException:
        for close in closers:
            close()
        raise
    return Handlers(
        by_kind={**by_kind, **built.by_kind},
        clients=Clients(azure=session, graph=graph, planes=built.clients),
        aws=aws,
        clock=connection.clock,
        checks=built.checks,
        caches=built.caches,
        listings=built.listings,
        _closers=closers,
    )
