"""Azure plumbing: credentials, SDK clients built from a `Connection`, error translation.

azure-* modules are imported inside functions only, so `cmkctl --help`, `validate` and a plan that
touches only Astra never load them.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reconciler.core.errors import (
    CredentialError,
    GuardError,
    KeyAccessPendingError,
    ProviderError,
    TransientError,
    is_key_access_failure,
    is_key_access_refusal,
)
from reconciler.core.wirelog import LOG
from reconciler.providers.base import Connection
from reconciler.providers.cache import RunCache
from reconciler.providers.https import TRANSIENT_STATUSES, require_https
from reconciler.providers.transport import azure_transport

PLANE = "arm"

# azure-core retries throttling and 5xx itself (honouring Retry-After, with its own backoff, on the
# run's clock through the transport); keep that short so the engine's budgets, which know about the
# whole plan, stay in charge.
SDK_RETRY_TOTAL = 3

_SUBSCRIPTION_IN_SCOPE = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)

# Every azure module the providers use. They are imported together, once, under one lock: the
# executor reads and writes in parallel threads, and two threads importing azure packages for the
# first time at once deadlock on Python's per-module import locks.
AZURE_MODULES = (
    "azure.core.credentials",
    "azure.core.exceptions",
    "azure.mgmt.keyvault",
    "azure.mgmt.keyvault.models",
    "azure.mgmt.authorization",
    "azure.mgmt.authorization.v2022_04_01.models",
    "azure.mgmt.cosmosdb",
    "azure.mgmt.cosmosdb.models",
    "azure.mgmt.msi",
    "azure.mgmt.msi.v2024_11_30",
    "azure.mgmt.msi.v2024_11_30.models",
    "azure.mgmt.msi.v2024_11_30.operations",
    "azure.mgmt.mongocluster",
    "azure.mgmt.mongocluster.models",
    "azure.keyvault.keys",
)
_IMPORT_LOCK = threading.Lock()

# The api-version each client sends, pinned: an SDK upgrade must not change the wire protocol unseen.
# Each is the version whose published definition tests/contracts/ holds the calls to. Managed Cassandra:
# azure-mgmt-cosmosdb 10 defaults to 2026-03-15, published only as one combined Cosmos DB file; 2025-10-15
# is the newest separate managedCassandra.json, and its cassandraClusters and dataCenters are what cmkctl uses.
API_VERSIONS = {
    "azure.mgmt.keyvault:KeyVaultManagementClient": "2026-05-15",
    "azure.mgmt.authorization:AuthorizationManagementClient": "2022-04-01",
    "azure.mgmt.cosmosdb:CosmosDBManagementClient": "2025-10-15",
    "azure.mgmt.mongocluster:MongoClusterMgmtClient": "2026-06-01",
    "azure.mgmt.msi:ManagedServiceIdentityClient": "2024-11-30",
}


def import_azure() -> None:
    """Load the azure SDKs (a no-op once done); call before any other azure import."""
    with _IMPORT_LOCK:
        for name in AZURE_MODULES:
            importlib.import_module(name)


def sdk_class(path: str) -> Any:
    """`module:Class` from the azure SDKs, imported safely (see `import_azure`)."""
    import_azure()
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def default_azure_credential() -> Any:
    """The credential of a real run: environment, workload identity, managed identity, az login.

    Passed uncalled as `Connection.azure_credential`, so it is built only when Azure is used.
    """
    # Not among AZURE_MODULES: msal makes it the slowest azure import, and the emulator's runs need none.
    with _IMPORT_LOCK:
        from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


# DefaultAzureCredential's chain, as its error lists it ("\tAzureCliCredential: ..."), in a user's words.
CREDENTIAL_NAMES = {
    "EnvironmentCredential": "environment variables", "WorkloadIdentityCredential": "workload identity",
    "ManagedIdentityCredential": "managed identity", "SharedTokenCacheCredential": "shared token cache",
    "VisualStudioCodeCredential": "VS Code", "AzureCliCredential": "Azure CLI",
    "AzurePowerShellCredential": "Azure PowerShell", "AzureDeveloperCliCredential": "Azure Developer CLI",
    "BrokerCredential": "broker", "InteractiveBrowserCredential": "browser",
}
_ATTEMPTED = re.compile(r"^\s+(\w+Credential):", re.MULTILINE)
AZURE_FIX = ("run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service "
             "principal), or AZURE_FEDERATED_TOKEN_FILE with the first two (workload identity)")


def no_login_message(error: str) -> str:
    """One line for a credential chain that found nothing: what it tried, and what to do."""
    tried = [CREDENTIAL_NAMES.get(name, name) for name in _ATTEMPTED.findall(error)]
    what = f"tried: {', '.join(dict.fromkeys(tried))}" if tried else _first_line(error)
    return f"Azure: no credential is signed in ({what}). Fix: {AZURE_FIX}"


def normalize_uri(uri: str) -> str:
    """A Key Vault URI as users write it: no default `:443` port, lower-case host, no trailing slash.

    ARM's examples return `https://v.vault.azure.net:443/keys/k`; Astra and Confluent expect the
    form without the port, and the planner compares these strings.
    """
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    netloc = host if parts.port in (None, 443) else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))


def subscription_of_scope(scope: str) -> str | None:
    match = _SUBSCRIPTION_IN_SCOPE.match(scope)
    return match.group(1) if match else None


class AzureSession:
    """One credential and one SDK client per (client type, subscription) for a whole run.

    Built lazily and shared by the Azure handlers; a lock because the executor runs independent
    branches in parallel threads.
    """

    def __init__(self, connection: Connection, *, subscription_id: str | None) -> None:
        self._connection = connection
        self._subscription_id = subscription_id
        self._lock = threading.Lock()
        self._credential: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        # Lists read once per run and shared by the handlers (see reconciler.providers.cache).
        self.lists = RunCache()

    @property
    def connection(self) -> Connection:
        return self._connection

    def check_subscription(self, subscription_id: str) -> str:
        """Refuse to act in a subscription other than the manifest's (a guard, like AWS's account)."""
        expected = self._subscription_id
        if expected is not None and subscription_id.lower() != expected.lower():
            raise GuardError(f"refusing to act in Azure subscription {subscription_id}: the manifest names {expected}")
        return subscription_id

    def default_subscription(self) -> str:
        """The manifest's subscription, for calls whose address (a scope) names none."""
        if self._subscription_id is None:
            raise ProviderError("no Azure subscription is configured for this scope", plane=PLANE)
        return self._subscription_id

    def credential(self) -> Any:
        import_azure()
        with self._lock:
            if self._credential is None:
                self._credential = _build_credential(self._connection)
            return self._credential

    def check_credential(self) -> None:
        """Before a real run reads anything: get one token now. A missing login is permanent,
        and found here once, instead of by every read of the plan (each trying the whole chain)."""
        credential = self.credential()  # first: it loads the azure SDKs under their import lock
        from azure.core.exceptions import ClientAuthenticationError

        arm = self._connection.endpoints.arm
        try:
            credential.get_token(f"{arm}/.default")
        except ClientAuthenticationError as error:
            raise CredentialError(no_login_message(str(error))) from None

    def client(self, client_class: str, subscription_id: str) -> Any:
        """The cached SDK client (`module:Class`) for `subscription_id`, made on first use."""
        credential = self.credential()
        factory = sdk_class(client_class)
        with self._lock:
            key = (client_class, subscription_id.lower())
            if key not in self._clients:
                self._clients[key] = factory(credential, subscription_id, api_version=API_VERSIONS[client_class],
                                             **arm_client_kwargs(self._connection))
            return self._clients[key]

    def data_client(self, client_class: str, url: str, **kwargs: Any) -> Any:
        """The cached data-plane SDK client (`module:Class`) for the endpoint `url` (a vault)."""
        credential = self.credential()
        factory = sdk_class(client_class)
        with self._lock:
            key = (client_class, url.lower())
            if key not in self._clients:
                self._clients[key] = factory(url, credential, **kwargs)
            return self._clients[key]

    def close(self) -> None:
        """Release the SDK clients' connection pools (and the credential's, if it keeps one)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            credential, self._credential = self._credential, None
        for held in [*clients, credential]:
            close = getattr(held, "close", None)
            if callable(close):
                close()


class GroupListing:
    """One resource type's resources in a resource group: listed once per run (ARM's
    ListByResourceGroup), shared by every reader, forgotten around each write of that type.

    A fleet has a Mongo cluster, a Cassandra cluster and an identity per region and environment,
    mostly in a few resource groups: a list per group instead of a GET per resource.
    """

    def __init__(self, session: AzureSession, what: str, list_group: Callable[[str, str], Iterable[Any]]) -> None:
        self._session = session
        self._what = what  # "Mongo clusters": for the cache key and error messages
        self._list_group = list_group  # (subscription, resource group) -> SDK models

    def find(self, subscription_id: str, resource_group: str, name: str) -> Any | None:
        """The SDK model of `name`, or None when the resource group holds no such resource."""
        listed = self._session.lists.get(self._key(subscription_id, resource_group),
                                         lambda: self._fetch(subscription_id, resource_group))
        return listed.get(name.lower())

    @contextmanager
    def writing(self, subscription_id: str, resource_group: str) -> Iterator[None]:
        """Around a write: forgotten before (a retried create must see an earlier attempt's
        resource) and after (however the write ended, the group has changed)."""
        key = self._key(subscription_id, resource_group)
        self._session.lists.forget(key)
        try:
            yield
        finally:
            self._session.lists.forget(key)

    def _key(self, subscription_id: str, resource_group: str) -> tuple[str, str, str]:
        return (self._what, subscription_id.lower(), resource_group.lower())

    def _fetch(self, subscription_id: str, resource_group: str) -> dict[str, Any]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return {str(item.name).lower(): item for item in self._list_group(subscription_id, resource_group)}
        except ResourceNotFoundError:
            return {}  # no such resource group yet: nothing in it exists
        except sdk_errors() as e:
            raise translate(e, f"list the {self._what} of resource group {resource_group}") from e


def _build_credential(connection: Connection) -> Any:
    if connection.azure_credential is not None:
        return connection.azure_credential()
    raise CredentialError("no Azure credential configured (DefaultAzureCredential was not set up)")


def client_transport(connection: Connection) -> Any:
    """A new transport for one azure-core client: the run's CA, host mappings and clock (providers/transport.py)."""
    endpoints = connection.endpoints
    return azure_transport(clock=connection.clock, routes=endpoints.routes, ca_bundle=endpoints.ca_bundle)


def arm_client_kwargs(connection: Connection) -> dict[str, Any]:
    """Keyword arguments every azure-mgmt client gets: endpoint, transport, retries. The same in every run:
    azure-core's default backoff and the SDKs' default polling interval, waited on the run's clock."""
    arm = require_https(connection.endpoints.arm, plane=PLANE)
    kwargs: dict[str, Any] = {
        "base_url": arm,
        # Sovereign clouds and the emulator: ask for a token for the ARM endpoint actually used.
        "credential_scopes": [f"{arm}/.default"],
        "retry_total": SDK_RETRY_TOTAL,
        "transport": client_transport(connection),
    }
    if LOG.observed:
        kwargs["per_retry_policies"] = [wire_policy(PLANE)]
    return kwargs


def wire_policy(plane: str) -> Any:
    """An azure-core policy reporting each attempt on `plane` to `reconciler.core.wirelog` (redacted there)."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class WirePolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
        def on_response(self, request: Any, response: Any) -> None:
            sent, answer = request.http_request, response.http_response
            LOG.exchange(plane=plane, method=sent.method, url=sent.url, status=answer.status_code,
                         request_headers=sent.headers, response_headers=answer.headers, request_body=sent.body)

        def on_exception(self, request: Any) -> None:
            sent = request.http_request
            LOG.exchange(plane=plane, method=sent.method, url=sent.url, status=None,
                         error=type(sys.exc_info()[1]).__name__)

    return WirePolicy()


def sdk_errors() -> tuple[type[Exception], ...]:
    """What the SDKs raise: AzureError, and the (de)serialization errors that are ValueErrors."""
    from azure.core.exceptions import AzureError, DeserializationError, SerializationError

    return (AzureError, DeserializationError, SerializationError)


@contextmanager
def azure_errors(what: str) -> Iterator[None]:
    """Translate azure-core exceptions raised inside the block into `reconciler.core.errors` types."""
    try:
        yield
    except sdk_errors() as e:
        raise translate(e, what) from e


def error_code(e: Any) -> str:
    """The service's error code (`error.code` of the ARM envelope), or ''."""
    error = getattr(e, "error", None)
    return str(getattr(error, "code", "") or "")


def translate(e: Exception, what: str) -> Exception:
    """An azure-core exception as a `reconciler.core.errors` type; the message never holds a token."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        DeserializationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(e, ClientAuthenticationError) and getattr(e, "response", None) is None:
        # Raised by the credential itself (no HTTP response from ARM): not signed in.
        return CredentialError(f"{what}: Azure credential unavailable: {_first_line(str(e))}")
    if isinstance(e, HttpResponseError) and e.status_code is not None:
        return _status_error(e, what)
    if isinstance(e, ServiceRequestError | ServiceResponseError):
        return TransientError(f"{what}: cannot reach Azure: {type(e).__name__}", plane=PLANE, code="connection")
    if isinstance(e, DeserializationError):
        # Its text embeds the whole response body; the type says enough.
        return ProviderError(f"{what}: ARM answered with a body the SDK cannot decode", plane=PLANE)
    return ProviderError(f"{what}: {type(e).__name__}: {_first_line(str(e))}", plane=PLANE)


def _status_error(e: Any, what: str) -> Exception:
    status: int = e.status_code
    if 200 <= status < 300:
        return _operation_failed(e, what)
    code = error_code(e)
    message = _service_message(e)
    text = f"{what}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if status == 401:
        return CredentialError(f"{text} (Azure rejected the credential)")
    if status in TRANSIENT_STATUSES:
        return TransientError(text, plane=PLANE, code=code, status=status, retry_after=_retry_after(e))
    if is_key_access_refusal(status, code, message):
        # A consuming service (Mongo, Cassandra) cannot use the key yet: usually a grant propagating.
        return KeyAccessPendingError(text, plane=PLANE, code=code, status=status)
    return ProviderError(text, plane=PLANE, code=code, status=status)


def _operation_failed(e: Any, what: str) -> Exception:
    """azure-core's poller saw a long-running operation end Failed or Canceled: its last answer (2xx)
    is the operation's status, whose `error` gives the service's code and message (ARM's async
    reference), or the resource, whose provisioningState says only that it failed."""
    from azure.core.polling.base_polling import OperationFailed

    if not isinstance(e.__cause__, OperationFailed):
        # BadStatus, BadResponse: the poll's answer was not one an operation gives.
        return ProviderError(f"{what}: ARM answered a poll of the operation with something the SDK cannot read "
                             f"({type(e.__cause__).__name__})", plane=PLANE)
    code = error_code(e)
    if code:
        text = f"{what}: the operation failed: {code}" + (f": {message}" if (message := _service_message(e)) else "")
        if is_key_access_failure(code):
            # The service could not use the key: a grant made moments ago has not reached Key Vault yet, or
            # is missing. Writing again is safe (ARM's PUT and PATCH are idempotent); the grant budget bounds it.
            return KeyAccessPendingError(text, plane=PLANE, code=code)
        return ProviderError(text, plane=PLANE, code=code)
    body = _json_body(e)
    state = _ended_as(body)
    shown = state if isinstance(body, dict) and "status" in body else f"with provisioningState {state}"
    return ProviderError(f"{what}: the operation ended {shown} and Azure gave no reason (the resource's activity "
                         "log may say more)", plane=PLANE, code=state)


def _json_body(e: Any) -> Any:
    response = getattr(e, "response", None)
    try:
        return json.loads(response.text()) if response is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def _ended_as(body: Any) -> str:
    """How a failed operation's last answer says it ended: its status, or the resource's provisioningState."""
    properties = body.get("properties") if isinstance(body, dict) else None
    state = (body.get("status") if isinstance(body, dict) else None) or (
        properties.get("provisioningState") if isinstance(properties, dict) else None)
    return _first_line(str(state or "Failed"))[:40]


def _service_message(e: Any) -> str:
    error = getattr(e, "error", None)
    message = getattr(error, "message", None) or getattr(e, "reason", None) or ""
    return _first_line(str(message))


def _retry_after(e: Any) -> float | None:
    response = getattr(e, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def listed(session: AzureSession, subscription: str, client: str, what: str,
           listing: Callable[[Any], Iterable[Any]]) -> list[dict[str, Any]]:
    """Every item a subscription-wide SDK listing yields, as plain dicts; SDK errors translated."""
    try:
        return [item.as_dict() for item in listing(session.client(client, subscription))]
    except sdk_errors() as e:
        raise translate(e, f"list the subscription's {what}") from e
