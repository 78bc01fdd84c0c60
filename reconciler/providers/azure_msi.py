"""User-assigned managed identities (azure-mgmt-msi, `user_assigned_identities`).

Creating one is a plain PUT, not a long-running operation. The SDK's models here are of the older
generation (flattened, snake_case), so they are read attribute by attribute into the kind's
camelCase shape and nothing SDK-shaped leaves this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.errors import ProviderError
from reconciler.providers.azure_common import AzureSession, GroupListing, azure_errors, sdk_class
from reconciler.providers.base import Capability, Live

PLANE = "arm"
MSI_CLIENT = "azure.mgmt.msi:ManagedServiceIdentityClient"
IDENTITY_MODEL = "azure.mgmt.msi.v2024_11_30.models:Identity"


def _identities(session: AzureSession, subscription_id: str) -> Any:
    return session.client(MSI_CLIENT, session.check_subscription(subscription_id)).user_assigned_identities


def normal_location(location: str | None) -> str | None:
    """ARM answers "East US" where manifests say eastus."""
    return location.replace(" ", "").lower() if location else location


def identity_live(identity: Any) -> Live:
    """An SDK Identity -> the kind's attributes (location, tenantId, tags) and outputs."""
    return {
        "location": normal_location(identity.location),
        "tenantId": identity.tenant_id,
        "tags": dict(identity.tags or {}),
        "id": identity.id,
        "principalId": identity.principal_id,
        "clientId": identity.client_id,
    }


class UserAssignedIdentityHandler:
    kind = "azure_user_assigned_identity"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AzureSession) -> None:
        self._session = session
        self._listing = GroupListing(session, "user-assigned identities",
                                     lambda sub, group: _identities(session, sub).list_by_resource_group(group))

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        found = self._listing.find(identity["subscriptionId"], identity["resourceGroup"], identity["name"])
        return identity_live(found) if found is not None else None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        operations = _identities(self._session, identity["subscriptionId"])
        body = sdk_class(IDENTITY_MODEL)(location=attributes["location"], tags=dict(attributes.get("tags") or {}))
        with (self._listing.writing(identity["subscriptionId"], identity["resourceGroup"]),
              azure_errors(f"create identity {identity['name']}")):
            created = operations.create_or_update(identity["resourceGroup"], identity["name"], body)
        return identity_live(created)

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        # Location and tenant are fixed (the planner forbids changing them) and tags are create-only:
        # nothing declared can change on an existing identity.
        raise ProviderError(f"azure_user_assigned_identity {identity['name']}: {', '.join(sorted(attributes))} "
                            "cannot change on an existing identity", plane=PLANE)
