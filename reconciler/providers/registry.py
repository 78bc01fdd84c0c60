"""Which handler serves which kind: an explicit table, built once per run.

Nothing here talks to a cloud: SDK clients and tokens are made on first use, so a plan that
touches only Astra never imports azure, and `validate` never builds a credential.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import cast

import httpx

from reconciler.core.clock import SYSTEM_CLOCK, Clock
from reconciler.core.errors import CredentialError
from reconciler.manifest.model import Accounts
from reconciler.providers.astra import AstraClient, ProviderAccountsHandler, RegistrationHandler
from reconciler.providers.aws_kms import AwsSession, KmsKeyHandler
from reconciler.providers.azure_access_policy import AccessPolicyHandler
from reconciler.providers.azure_authorization import RoleAssignmentHandler
from reconciler.providers.azure_cassandra import ClusterHandler as CassandraClusterHandler
from reconciler.providers.azure_cassandra import DataCenterHandler as CassandraDataCenterHandler
from reconciler.providers.azure_common import AzureSession
from reconciler.providers.azure_keyvault import KeyHandler, VaultHandler
from reconciler.providers.azure_mongo import MongoClusterHandler
from reconciler.providers.azure_msi import UserAssignedIdentityHandler
from reconciler.providers.base import Capability, Connection, ForgetsReads, ResourceHandler
from reconciler.providers.confluent import ByokKeyHandler, ClusterHandler, ConfluentClient
from reconciler.providers.graph import GraphClient, ServicePrincipalHandler
from reconciler.providers.https import new_client, require_https
from reconciler.providers.transport import checked_routes


class LazyHttp:
    """An httpx client made on first use (one per plane per run) and closed with the run."""

    def __init__(self, make: Callable[[], httpx.Client]) -> None:
        self._make = make
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def plane_http(connection: Connection, plane: str, url: str) -> LazyHttp:
    """The run's httpx client for one REST plane, made on first use."""
    endpoints = connection.endpoints
    return LazyHttp(lambda: new_client(url, plane=plane, ca_bundle=endpoints.ca_bundle))


@dataclass(frozen=True)
class Clients:
    """The run's clients, shared by the handlers and the unmanaged report so that a list one of
    them fetched (role assignments, Astra registrations, BYOK keys, a vault's keys) is not
    fetched again by the other."""

    azure: AzureSession
    graph: GraphClient
    astra: AstraClient
    confluent: ConfluentClient


@dataclass
class Handlers:
    """The run's handlers by kind, and the Astra client for the planner's database warning.

    `astra` is None when the manifests name no Astra organization. Close it (or use `with`) at the
    end of the run to release pooled connections.
    """

    by_kind: dict[str, ResourceHandler]
    astra: AstraClient | None
    clients: Clients
    aws: AwsSession | None = None
    # The run's clock (the Connection's): the retry policy waits on it.
    clock: Clock = SYSTEM_CLOCK
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
        for cache in (self.clients.azure.lists, self.clients.astra.lists, self.clients.confluent.lists):
            cache.forget_all()
        for handler in self.by_kind.values():
            if Capability.FORGETS_READS in handler.capabilities:
                cast(ForgetsReads, handler).forget_all()

    def check_credentials(self, planes: Collection[str]) -> None:
        """Fail at once, one line per plane, when a plane the run needs has no credentials: an
        authentication failure is permanent, and retrying every read of a plan only hides it."""
        checks = {"azure": self.clients.azure.check_credential, "astra": self.clients.astra.check_credentials,
                  "confluent": self.clients.confluent.check_credentials}
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


def build_handlers(connection: Connection, *, subscription_id: str | None, organization_id: str | None,
                   aws_account_id: str | None = None) -> Handlers:
    """Every kind's handler for one run.

    `subscription_id`, `organization_id` and `aws_account_id` are the accounts the manifests name:
    handlers refuse (GuardError) to act on an identity in another subscription, organization or
    AWS account.
    """
    endpoints = connection.endpoints
    for plane, url in (("arm", endpoints.arm), ("graph", endpoints.graph), ("astra", endpoints.astra),
                       ("confluent", endpoints.confluent)):
        require_https(url, plane=plane)  # refuse a plain-http endpoint before anything runs
    checked_routes(endpoints.routes)
    graph_http = plane_http(connection, "graph", endpoints.graph)
    astra_http = plane_http(connection, "astra", endpoints.astra)
    session = AzureSession(connection, subscription_id=subscription_id)
    aws = AwsSession(connection, account_id=aws_account_id)  # refuses a plain-http endpoint here
    graph = GraphClient(graph_http.get, session, base_url=endpoints.graph)
    astra = AstraClient(astra_http.get, connection.astra_token)
    confluent_http = plane_http(connection, "confluent", endpoints.confluent)
    confluent = ConfluentClient(confluent_http.get, connection.confluent_api_key, connection.confluent_api_secret)
    by_kind: dict[str, ResourceHandler] = {
        "azure_vault": VaultHandler(session),
        "azure_key": KeyHandler(session),
        "azure_role_assignment": RoleAssignmentHandler(session),
        "azure_access_policy": AccessPolicyHandler(session),
        "cassandra_cluster": CassandraClusterHandler(session),
        "cassandra_data_center": CassandraDataCenterHandler(session),
        "azure_user_assigned_identity": UserAssignedIdentityHandler(session),
        "mongo_cluster": MongoClusterHandler(session),
        "azuread_service_principal": ServicePrincipalHandler(graph),
        "astra_provider_accounts": ProviderAccountsHandler(astra),
        "astra_registration": RegistrationHandler(astra, organization_id=organization_id),
        "aws_kms_key": KmsKeyHandler(aws),
        "confluent_byok_key": ByokKeyHandler(confluent),
        "confluent_cluster": ClusterHandler(confluent),
    }
    return Handlers(
        by_kind=by_kind,
        astra=astra if organization_id is not None else None,
        clients=Clients(azure=session, graph=graph, astra=astra, confluent=confluent),
        aws=aws,
        clock=connection.clock,
        _closers=[graph_http.close, astra_http.close, confluent_http.close, session.close, aws.close],
    )


def handlers_of(connection: Connection, accounts: Accounts) -> Handlers:
    """Every kind's handler for a run of a key set, guarded to the accounts its manifest names."""
    return build_handlers(connection, subscription_id=accounts.azure_subscription_id,
                          organization_id=accounts.astra_organization_id, aws_account_id=accounts.aws_account_id)
