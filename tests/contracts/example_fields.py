"""The fields cmkctl reads from each kind of answer, as a published example says them.

Taken from the example by the definitions' documented meanings and defaults, not by cmkctl's own
reading, so that a test comparing the two says something: direction (a) compares cmkctl's reading of an
example with these, direction (b) these of the emulator's answer with these of the example's.
"""

from __future__ import annotations

from typing import Any


def vault_says(vault: dict[str, Any]) -> dict[str, Any]:
    properties = vault["properties"]
    acls = properties.get("networkAcls") or {}
    return {
        "location": vault["location"], "tenantId": properties["tenantId"], "sku": properties["sku"]["name"],
        # Issue 20 item 4: a vault that does not say is an access-policy vault (these examples all are).
        "enableRbacAuthorization": properties.get("enableRbacAuthorization", False),
        "enablePurgeProtection": properties.get("enablePurgeProtection", False),
        # VaultProperties.softDeleteRetentionInDays "default": 90; NetworkRuleSet bypass default AzureServices.
        "softDeleteRetentionInDays": properties.get("softDeleteRetentionInDays", 90),
        "networkAcls": {"bypass": acls.get("bypass", "AzureServices"), "defaultAction": acls.get("defaultAction", "Allow")},
        "tags": vault.get("tags") or {},
        "id": vault["id"],
        "vaultUri": properties["vaultUri"].rstrip("/"),
    }


def vault_declared(says: dict[str, Any]) -> dict[str, Any]:
    return {name: says[name] for name in ("location", "tenantId", "sku", "enableRbacAuthorization",
                                          "enablePurgeProtection", "softDeleteRetentionInDays", "networkAcls")}


def key_uri(uri: str) -> str:
    """A key identifier as users write it: no default port (ARM's examples add it), the host in lower case
    (a DNS name), no trailing slash."""
    scheme, rest = uri.split("://", 1)
    host, _, path = rest.partition("/")
    return f"{scheme}://{host.lower().removesuffix(':443')}/{path}".rstrip("/")


def key_says(key: dict[str, Any]) -> dict[str, Any]:
    properties = key["properties"]
    says = {"kty": properties.get("kty"), "keyUri": key_uri(properties["keyUri"]), "id": key["id"],
            "enabled": properties["attributes"]["enabled"], "versionCreated": properties["attributes"]["created"]}
    if "keySize" in properties:
        says["keySize"] = properties["keySize"]
    if "keyUriWithVersion" in properties:
        says["keyUriWithVersion"] = key_uri(properties["keyUriWithVersion"])
    return says


def identity_says(identity: dict[str, Any]) -> dict[str, Any]:
    properties = identity["properties"]
    return {"location": identity["location"], "tenantId": properties["tenantId"], "tags": identity.get("tags") or {},
            "id": identity["id"], "principalId": properties["principalId"], "clientId": properties["clientId"]}


def location_name(location: str) -> str:
    """ARM's display name of a region as manifests write it ("West US 2" is westus2)."""
    return location.replace(" ", "").lower()


def cassandra_cluster_says(cluster: dict[str, Any]) -> dict[str, Any]:
    properties = cluster["properties"]
    return {"location": location_name(cluster["location"]),
            "identityType": (cluster.get("identity") or {}).get("type", "None"),
            "delegatedManagementSubnetId": properties["delegatedManagementSubnetId"],
            "cassandraVersion": properties["cassandraVersion"], "tags": cluster.get("tags") or {}, "id": cluster["id"],
            "provisioningState": properties["provisioningState"]}


def data_center_says(data_center: dict[str, Any]) -> dict[str, Any]:
    properties = data_center["properties"]
    return {"dataCenterLocation": location_name(properties["dataCenterLocation"]),
            "delegatedSubnetId": properties["delegatedSubnetId"], "nodeCount": properties["nodeCount"],
            "id": data_center["id"], "provisioningState": properties["provisioningState"]}


def mongo_says(cluster: dict[str, Any]) -> dict[str, Any]:
    properties = cluster["properties"]
    cmk = (properties.get("encryption") or {}).get("customerManagedKeyEncryption")
    identity = cluster.get("identity") or {}
    return {
        "location": cluster["location"],
        "encryptionMode": "CustomerManagedKey" if cmk else "ServiceManagedKey",
        "customerManagedKeyEncryption": cmk and {"keyEncryptionKeyIdentity": cmk["keyEncryptionKeyIdentity"],
                                                 "keyEncryptionKeyUrl": key_uri(cmk["keyEncryptionKeyUrl"])},
        "tags": cluster.get("tags") or {},
        "id": cluster["id"],
        "identityType": identity.get("type", "None"),
        "userAssignedIdentities": sorted(k.lower() for k in identity.get("userAssignedIdentities") or {}),
        "provisioningState": properties.get("provisioningState"),
    }


def canonical_policy(document: dict[str, Any]) -> dict[str, Any]:
    """A rotation policy as manifests declare it, from Key Vault's wire form."""
    found: dict[str, Any] = {"rotateAfter": None, "rotateBeforeExpiry": None, "notifyBefore": None,
                             "expiresAfter": document.get("attributes", {}).get("expiryTime")}
    for action in document["lifetimeActions"]:
        kind, trigger = action["action"]["type"].lower(), action["trigger"]
        if kind == "rotate":
            found["rotateAfter" if "timeAfterCreate" in trigger else "rotateBeforeExpiry"] = next(iter(trigger.values()))
        else:
            found["notifyBefore"] = trigger["timeBeforeExpiry"]
    return found


def assignment_says(assignment: dict[str, Any]) -> dict[str, Any]:
    return {"principalType": assignment["properties"]["principalType"], "id": assignment["id"],
            "name": assignment["name"]}
