"""Azure Cosmos DB for MongoDB vCore clusters (azure-mgmt-mongocluster >= 1.1).

Creating (PUT) and re-keying (PATCH) are long-running operations carried by the SDK's pollers
(azure_common translates one that ends Failed). A cluster whose last operation failed has not
taken its key: it is read without one, so a plan sends the key again and a retried create updates
the cluster an earlier attempt left (ARM's PUT and PATCH are idempotent). Bodies are sent in wire
form and responses read through `as_dict()` (this SDK generation yields the wire, camelCase, form),
so nothing SDK-shaped leaves.

The administrator password is read from the environment variable the plan names, at the moment
the cluster is created, and is sent nowhere else: not in the plan, not in an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from reconciler.core.errors import ProviderError
from reconciler.core.secrets import Secret
from reconciler.providers.azure_common import AzureSession, GroupListing, azure_errors, listed, normalize_uri
from reconciler.providers.base import Capability, Live, grant_awaited

PLANE = "arm"
MONGO_CLIENT = "azure.mgmt.mongocluster:MongoClusterMgmtClient"
SERVICE = "Mongo vCore"
CUSTOMER_MANAGED = "CustomerManagedKey"
SERVICE_MANAGED = "ServiceManagedKey"
# Create-only settings that go into `properties` as they are named.
CREATE_PROPERTIES = ("compute", "storage", "sharding", "highAvailability", "serverVersion")
# Declared attributes no request can change on an existing cluster (the planner forbids them).
FIXED = ("location", "encryptionMode")


def _clusters(session: AzureSession, subscription_id: str) -> Any:
    return session.client(MONGO_CLIENT, session.check_subscription(subscription_id)).mongo_clusters


def normal_location(location: str | None) -> str | None:
    """ARM answers "West US 2" where manifests say westus2."""
    return location.replace(" ", "").lower() if location else location


# ---------------------------------------------------------------------------------------------
# reading


def cluster_live(cluster: Mapping[str, Any]) -> Live:
    """A cluster in wire form -> the kind's attributes and outputs."""
    props: Mapping[str, Any] = cluster.get("properties") or {}
    identity: Mapping[str, Any] = cluster.get("identity") or {}
    cmk = (props.get("encryption") or {}).get("customerManagedKeyEncryption")
    failed = props.get("provisioningState") == "Failed"
    return {
        "location": normal_location(cluster.get("location")),
        "encryptionMode": CUSTOMER_MANAGED if cmk else SERVICE_MANAGED,
        "customerManagedKeyEncryption": _cmk_live(cmk) if cmk and not failed else None,
        "tags": dict(cluster.get("tags") or {}),
        "id": cluster.get("id"),
        "identityType": identity.get("type") or "None",
        # ARM spells the group segment in either case; compared lower-cased.
        "userAssignedIdentities": sorted(k.lower() for k in (identity.get("userAssignedIdentities") or {})),
        "provisioningState": props.get("provisioningState"),
    }


def _cmk_live(cmk: Mapping[str, Any]) -> dict[str, Any]:
    identity: Mapping[str, Any] = cmk.get("keyEncryptionKeyIdentity") or {}
    url = cmk.get("keyEncryptionKeyUrl")
    return {
        "keyEncryptionKeyIdentity": {
            "identityType": identity.get("identityType"),
            "userAssignedIdentityResourceId": identity.get("userAssignedIdentityResourceId"),
        },
        "keyEncryptionKeyUrl": normalize_uri(url) if url else None,
    }


# ---------------------------------------------------------------------------------------------
# writing


def administrator_password(attributes: Mapping[str, Any], variables: Mapping[str, str]) -> Secret:
    """The password from the variable `administratorPassword` names; never its value in a message."""
    name = (attributes.get("administratorPassword") or {}).get("env")
    value = variables.get(name) if name else None
    if not value:
        raise ProviderError(f"mongo_cluster: the environment variable {name} (administrator.passwordFrom) is not "
                            "set; it must hold the administrator password to create the cluster", plane=PLANE)
    return Secret(value)


def identity_block(identity_id: str, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The cluster's `identity`: the identities it has now (`current`, its live `identity`) plus
    the key's, a system-assigned one kept if present.

    Whether ARM merges or replaces `userAssignedIdentities` on a PATCH is the provider's choice
    (the definition does not say): sending the whole set detaches nothing under either.
    """
    current = current or {}
    kind = "SystemAssigned,UserAssigned" if "SystemAssigned" in str(current.get("type") or "") else "UserAssigned"
    held = current.get("userAssignedIdentities") or {}
    attached: dict[str, dict[str, Any]] = {resource_id: {} for resource_id in held}
    if identity_id.lower() not in {resource_id.lower() for resource_id in attached}:
        attached[identity_id] = {}
    return {"type": kind, "userAssignedIdentities": attached}


def cluster_create_body(attributes: Mapping[str, Any], password: Secret) -> dict[str, Any]:
    cmk = attributes["customerManagedKeyEncryption"]
    properties: dict[str, Any] = {
        "administrator": {"userName": attributes["administrator"]["userName"], "password": password.reveal()},
        **{k: attributes[k] for k in CREATE_PROPERTIES if k in attributes},
        "encryption": {"customerManagedKeyEncryption": cmk},
    }
    return {
        "location": attributes["location"],
        "tags": dict(attributes.get("tags") or {}),
        "identity": identity_block(cmk["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"]),
        "properties": properties,
    }


def cluster_patch_body(attributes: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The procedure's update: identity and key together, whichever of the two changed; `current`
    is the cluster in wire form, read just before."""
    fixed = set(FIXED) & set(attributes)
    if fixed:
        raise ProviderError(f"mongo_cluster: {', '.join(sorted(fixed))} cannot change on an existing cluster",
                            plane=PLANE)
    cmk = attributes["customerManagedKeyEncryption"]
    identity_id = cmk["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"]
    return {
        "identity": identity_block(identity_id, current.get("identity")),
        "properties": {"encryption": {"customerManagedKeyEncryption": cmk}},
    }


def _require_create_settings(name: str, attributes: Mapping[str, Any]) -> None:
    if "administrator" not in attributes or "compute" not in attributes or "storage" not in attributes:
        raise ProviderError(f"mongo_cluster {name} does not exist and its registration declares no `create` "
                            "settings (administrator, compute, storage): add them to create it, or name an "
                            "existing cluster", plane=PLANE)


class MongoClusterHandler:
    kind = "mongo_cluster"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, session: AzureSession, variables: Mapping[str, str]) -> None:
        self._session = session
        self._variables = variables  # the run's environment, read by the front end: the password's variable
        self._listing = GroupListing(session, "Mongo clusters",
                                     lambda sub, group: _clusters(session, sub).list_by_resource_group(group))

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        found = self._listing.find(identity["subscriptionId"], identity["resourceGroup"], identity["name"])
        return cluster_live(found.as_dict()) if found is not None else None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        _require_create_settings(identity["name"], attributes)
        body = cluster_create_body(attributes, administrator_password(attributes, self._variables))
        clusters = _clusters(self._session, identity["subscriptionId"])
        key = (attributes.get("customerManagedKeyEncryption") or {}).get("keyEncryptionKeyUrl")
        with self._writing(identity), grant_awaited(key, SERVICE), \
                azure_errors(f"create Mongo cluster {identity['name']}"):
            cluster = clusters.begin_create_or_update(identity["resourceGroup"], identity["name"], body).result()
        return cluster_live(cluster.as_dict())

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        clusters = _clusters(self._session, identity["subscriptionId"])
        with azure_errors(f"read Mongo cluster {identity['name']}"):
            # Read now, not at plan time: an identity attached since must be sent back too.
            current = clusters.get(identity["resourceGroup"], identity["name"]).as_dict()
        body = cluster_patch_body(attributes, current)
        key = (attributes.get("customerManagedKeyEncryption") or {}).get("keyEncryptionKeyUrl")
        with self._writing(identity), grant_awaited(key, SERVICE), \
                azure_errors(f"update Mongo cluster {identity['name']}"):
            cluster = clusters.begin_update(identity["resourceGroup"], identity["name"], body).result()
        return cluster_live(cluster.as_dict())

    def _writing(self, identity: Mapping[str, Any]) -> AbstractContextManager[None]:
        return self._listing.writing(identity["subscriptionId"], identity["resourceGroup"])


def clusters_in(session: AzureSession, subscription: str, location: str) -> list[dict[str, Any]]:
    """Mongo vCore clusters of the subscription in `location`, as the kind reads them, with name and group
    (the input of an export)."""
    found = listed(session, subscription, MONGO_CLIENT, "Mongo vCore clusters", lambda c: c.mongo_clusters.list())
    return [{**live, "name": c["name"], "resourceGroup": c["id"].split("/")[4]}
            for c in found if (live := cluster_live(c))["location"] == normal_location(location)]
