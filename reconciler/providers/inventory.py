"""What already exists, listed rather than read one by one: the input of `cmkctl export` and of the
unmanaged report.

The core's listings (vaults, keys, identities, role assignments, KMS keys, a principal's application)
are here; each plug-in adds its own by name (`PlaneHandlers.listings`), called as methods of the inventory.
Everything leaves as plain dicts in the kinds' wire names; SDK models stay in the providers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from reconciler.core.errors import CmkError
from reconciler.manifest.model import Accounts
from reconciler.providers.aws_kms import AwsSession, KmsKeyHandler
from reconciler.providers.aws_kms import call as aws_call
from reconciler.providers.azure_access_policy import canonical
from reconciler.providers.azure_authorization import AUTHORIZATION_CLIENT, role_guid, same_scope
from reconciler.providers.azure_common import AzureSession, sdk_errors, translate
from reconciler.providers.azure_keyvault import (
    KEYVAULT_CLIENT,
    DataPlaneRefused,
    KeyVaultKeys,
    subscription_vaults_key,
    vault_keys,
    vault_live,
)
from reconciler.providers.azure_msi import MSI_CLIENT, normal_location
from reconciler.providers.base import Connection
from reconciler.providers.graph import GraphClient
from reconciler.providers.https import json_body
from reconciler.providers.paths import resource_id, segment
from reconciler.providers.plumbing import BuildsHandlers, Plumbing, plane_http
from reconciler.providers.registry import Handlers

Listing = Callable[..., list[Any]]


class Inventory:
    def __init__(self, session: AzureSession, graph: GraphClient, subscription_id: str, aws: AwsSession | None = None,
                 listings: Mapping[str, Listing] | None = None) -> None:
        self._session = session
        self._aws = aws
        self._graph = graph
        self._subscription = subscription_id
        self._listings = dict(listings or {})

    def __getattr__(self, name: str) -> Listing:
        """A plug-in's listing, a method of the inventory by the name the plug-in gave it
        (`astra_registrations`, `mongo_clusters`...), so that a retried listing says which it is."""
        listings = self.__dict__.get("_listings", {})
        if name not in listings:
            raise AttributeError(f"no listing {name!r}: no plug-in of the run lists it")
        listing: Listing = listings[name]
        return listing

    def _client(self, name: str) -> Any:
        return self._session.client(name, self._subscription)

    def all_vaults(self) -> list[dict[str, Any]]:
        """Every vault of the subscription, with its resource group and name; listed once per run."""
        return self._session.lists.get(subscription_vaults_key(self._subscription), self._list_vaults)

    def _list_vaults(self) -> list[dict[str, Any]]:
        try:
            listed = self._client(KEYVAULT_CLIENT).vaults.list_by_subscription()
            found = [v.as_dict() for v in listed]
        except sdk_errors() as e:
            raise translate(e, "list the subscription's vaults") from e
        return [{**vault_live(v), "name": v["name"], "resourceGroup": v["id"].split("/")[4],
                 "accessPolicies": _access_policies(v)} for v in found]

    def identities(self, location: str) -> list[dict[str, Any]]:
        """User-assigned identities of the subscription in `location`, with their principal's object ID."""
        try:
            found = list(self._client(MSI_CLIENT).user_assigned_identities.list_by_subscription())
        except sdk_errors() as e:
            raise translate(e, "list the subscription's user-assigned identities") from e
        return [{"name": i.name, "resourceGroup": i.id.split("/")[4], "principalId": i.principal_id}
                for i in found if normal_location(i.location) == normal_location(location)]

    def vaults(self, location: str) -> list[dict[str, Any]]:
        """Vaults of the subscription in `location`."""
        return [v for v in self.all_vaults() if str(v.get("location", "")).lower() == location.lower()]

    def keys(self, resource_group: str, vault: str) -> list[dict[str, Any]]:
        return vault_keys(self._session, self._subscription, resource_group, vault)

    def rotation_policy(self, vault_uri: str, key: str) -> dict[str, str | None] | str:
        """The key's rotation policy (canonical form), or, when Key Vault refuses the caller, what it lacks."""
        try:
            return KeyVaultKeys(self._session, vault_uri).read_policy(key)
        except DataPlaneRefused as refused:
            return refused.needs

    def role_assignments(self, scope: str) -> list[dict[str, Any]]:
        """Assignments made at `scope` itself, not inherited from above it."""
        try:
            client = self._client(AUTHORIZATION_CLIENT)
            found = list(client.role_assignments.list_for_scope(resource_id(scope, "scope", plane="arm"),
                                                                filter="atScope()"))
        except sdk_errors() as e:
            raise translate(e, f"list role assignments on {scope}") from e
        return [{"role": role_guid(a.role_definition_id), "principalId": a.principal_id,
                 "principalType": a.principal_type} for a in found if same_scope(a.scope or "", scope)]

    def kms_keys(self, region: str) -> list[dict[str, Any]]:
        """The customer keys of an AWS region that have an alias (the manifest's name for a key), as the kind
        reads them: description, rotation, the policy's statements by Sid."""
        if self._aws is None:
            raise CmkError(f"cannot export {region}: this run has no AWS plane")
        client, handler = self._aws.kms(region), KmsKeyHandler(self._aws)
        paginator = client.get_paginator("list_aliases")
        pages = aws_call(f"listing the KMS aliases of {region}", lambda: list(paginator.paginate()))
        aliases = sorted(a["AliasName"] for page in pages for a in page.get("Aliases", [])
                         if a.get("TargetKeyId") and not a["AliasName"].startswith("alias/aws/"))
        return [{**live, "alias": alias} for alias in aliases
                if (live := handler.read(identity={"region": region, "alias": alias})) is not None]

    def app_id(self, object_id: str) -> str | None:
        """The application ID of a service principal, or None for users, groups and unknown objects."""
        response = self._graph.request("GET", f"/servicePrincipals/{segment(object_id, 'object ID', plane='graph')}")
        body = json_body(response) if response.is_success else None
        return str(body["appId"]) if isinstance(body, dict) and body.get("appId") else None


def _access_policies(vault: dict[str, Any]) -> list[dict[str, Any]]:
    """Each entry's object ID and key permissions, named as the manifest names them."""
    entries = (vault.get("properties") or {}).get("accessPolicies") or []
    return [{"objectId": e["objectId"], "keys": sorted({canonical(p) for p in (e.get("permissions") or {})
                                                          .get("keys") or []})} for e in entries]


def shared_inventory(handlers: Handlers, *, subscription_id: str) -> Inventory:
    """An inventory on a run's own clients: what the plan listed is not listed again."""
    return Inventory(handlers.clients.azure, handlers.clients.graph, subscription_id, listings=handlers.listings)


@contextmanager
def inventory(connection: Connection, accounts: Accounts, plugins: Sequence[BuildsHandlers]) -> Iterator[Inventory]:
    """The listings of an export: the core's, and each plug-in's on clients of its own."""
    endpoints = connection.endpoints
    subscription_id = accounts.azure_subscription_id or ""
    graph_http = plane_http(connection, "graph", endpoints.graph)
    session = AzureSession(connection, subscription_id=subscription_id)
    # Only an export whose accounts name an AWS account lists KMS keys (export skips AWS regions otherwise).
    aws = AwsSession(connection, account_id=accounts.aws_account_id) if accounts.aws_account_id is not None else None
    closers = [graph_http.close, session.close, *([aws.close] if aws is not None else [])]
    try:
        listings: dict[str, Listing] = {}
        for plugin in plugins:
            built = plugin.build_handlers(Plumbing(connection, session, accounts))
            closers += built.closers
            listings.update(built.listings)
        yield Inventory(session, GraphClient(graph_http.get, session, base_url=endpoints.graph), subscription_id, aws,
                        listings)
    finally:
        for close in closers:
            close()
