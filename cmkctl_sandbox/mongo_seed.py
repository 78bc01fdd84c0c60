"""world.yaml's `azure.userAssignedIdentities` and `azure.mongoClusters`: identities and Mongo vCore clusters.

A seeded cluster with `keyEncryptionKeyUrl` was created with a customer-managed key (it then needs
`identity`, the name of a seeded identity); one without was created with service-managed
encryption, and stays so.
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import mongo, msi
from cmkctl_sandbox.seed import Section, SeedProblem
from cmkctl_sandbox.wire import State

# Keys of world.yaml's `azure` section this module seeds.
AZURE_KEYS = ("userAssignedIdentities", "mongoClusters")
SECTIONS: dict[str, tuple[str, ...]] = {
    "azure.userAssignedIdentities": ("subscription", "resourceGroup", "name", "location", "tags"),
    "azure.mongoClusters": ("subscription", "resourceGroup", "name", "location", "identity", "keyEncryptionKeyUrl",
                            "tags"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "azure.userAssignedIdentities": ("subscription", "resourceGroup", "name", "location"),
    "azure.mongoClusters": ("subscription", "resourceGroup", "name", "location"),
}


def user_assigned_identities(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("userAssignedIdentities") or []):
        subscription, group, name = str(entry["subscription"]), str(entry["resourceGroup"]), str(entry["name"])
        if msi.identities(state).get(msi.record_key(subscription, group, name)) is not None:
            raise SeedProblem(f"azure.userAssignedIdentities[{index}].name", f"identity {name!r} is declared twice")
        msi.new_identity(state, subscription, group, name, str(entry["location"]), entry.get("tags"))


def mongo_clusters(state: State, azure: Section, astra: Section) -> None:
    for index, entry in enumerate(azure.get("mongoClusters") or []):
        where = f"azure.mongoClusters[{index}]"
        subscription, group, name = str(entry["subscription"]), str(entry["resourceGroup"]), str(entry["name"])
        properties: dict[str, Any] = {"administrator": {"userName": "mongoAdmin"}, "compute": {"tier": "M30"},
                                      "storage": {"sizeGb": 32}}
        identity_id = _identity_id(state, entry, where)
        if identity_id is not None:
            properties["encryption"] = {"customerManagedKeyEncryption": {
                "keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity",
                                             "userAssignedIdentityResourceId": identity_id},
                "keyEncryptionKeyUrl": str(entry["keyEncryptionKeyUrl"]),
            }}
        resource = mongo.new_cluster(subscription, group, name, str(entry["location"]), properties, entry.get("tags"))
        resource["properties"].update({"provisioningState": "Succeeded", "clusterStatus": "Ready"})
        if identity_id is not None:
            found = msi.find_by_id(state, identity_id) or {"properties": {}}
            resource["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {
                "principalId": found["properties"].get("principalId"),
                "clientId": found["properties"].get("clientId")}}}
        mongo.clusters(state)[f"{subscription}/{group}/{name}".lower()] = resource


def _identity_id(state: State, entry: Section, where: str) -> str | None:
    """The seeded identity a customer-key cluster reads its key as; None for a service-managed cluster."""
    if "keyEncryptionKeyUrl" not in entry:
        if "identity" in entry:
            raise SeedProblem(f"{where}.identity", "an identity is given only with keyEncryptionKeyUrl")
        return None
    wanted = str(entry.get("identity") or "")
    found = next((r for r in msi.identities(state).values() if r["name"].lower() == wanted.lower()), None)
    if found is None:
        raise SeedProblem(f"{where}.identity", "must name an entry of azure.userAssignedIdentities")
    resource_id: str = found["id"]
    return resource_id


STEPS = (
    ("azure.userAssignedIdentities", user_assigned_identities),
    ("azure.mongoClusters", mongo_clusters),
)
