"""What each kind of object is, independent of how a provider reaches it.

The planner reads this table to decide what may change, what is irreversible and what must be
refused; providers implement reading and writing. Identity, attribute and output names are the
contract between the two, spelled as the control plane spells them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# (live value, declared value, the live object) -> why the change is refused; "" when it is not.
Guard = Callable[[Any, Any, Mapping[str, Any]], str]


@dataclass(frozen=True)
class KindSpec:
    kind: str
    plane: str
    # Declared attributes the control plane cannot change once the object exists.
    immutable: Mapping[str, str] = field(default_factory=dict)
    # Why creating one cannot be undone; empty when it can.
    irreversible_create: str = ""
    # attribute -> why setting it cannot be undone
    irreversible_attributes: Mapping[str, str] = field(default_factory=dict)
    # A lookup, never created or changed.
    read_only: bool = False
    # Sent when creating, never compared afterwards: the plane cannot change them and they matter
    # to nobody enough to refuse a plan over (tags of an adopted key, say).
    create_only: frozenset[str] = frozenset()
    # Attributes, by dotted path, whose strings the plane itself compares without case -- ARM
    # resource IDs, locations, GUIDs and enum values -- so that its echo ("EastUS") is no drift.
    # Every other string is compared exactly: a tag or description "ACME" is not "acme".
    case_insensitive: frozenset[str] = frozenset()
    # attribute -> the rule a refused change of it breaks; others break R-IMMUTABLE.
    rules: Mapping[str, str] = field(default_factory=dict)
    # attribute -> a change the plane would take, but only while the live object allows it
    guards: Mapping[str, Guard] = field(default_factory=dict)
    # attribute -> what the control plane means by a live null (Confluent: its own key, "Automatic").
    live_null: Mapping[str, str] = field(default_factory=dict)
    # attribute -> what an update of it means, said on the plan's step (a key rotation moving a
    # Cassandra data center, say)
    change_notes: Mapping[str, str] = field(default_factory=dict)
    # Outputs that say where a plane answers for the object, not what it is: left out of the
    # fingerprint a saved plan is checked by (the sandbox's vault endpoint moves with its port).
    endpoints: frozenset[str] = frozenset()


def _hsm_keys_need_premium(live_sku: Any, declared_sku: Any, live: Mapping[str, Any]) -> str:
    """A premium vault's HSM keys exist only in a premium vault: the plane would strand them."""
    held = live.get("hsmKeys") or []
    if str(declared_sku).lower() != "standard" or not held:
        return ""
    return (f"the vault holds HSM-protected keys ({', '.join(held)}), which only a premium vault can hold: "
            "move their consumers to software keys before the vault goes to standard")


AZURE_VAULT = KindSpec(
    # identity: subscriptionId, resourceGroup, name
    # attributes: location, tenantId, sku, enableRbacAuthorization, enablePurgeProtection,
    #   softDeleteRetentionInDays, networkAcls {bypass, defaultAction}, tags
    # outputs: id, vaultUri; hsmKeys (the names of its HSM keys, read only when the plan would take a
    #   premium vault to standard)
    kind="azure_vault",
    plane="arm",
    immutable={
        "location": "a vault cannot move to another region",
        "tenantId": "a vault cannot move to another tenant",
        "softDeleteRetentionInDays": "the soft-delete retention of a vault is fixed at creation",
    },
    irreversible_attributes={
        "enablePurgeProtection": "purge protection, once on, can never be turned off",
    },
    rules={"enablePurgeProtection": "R-PURGE-PROTECTION", "sku": "R-HSM-SKU"},
    guards={"sku": _hsm_keys_need_premium},
    # cmkctl tags what it creates; a vault made by hand and adopted keeps its own tags. `recover`
    # (declared only when true) says to recover a soft-deleted vault of the name instead of failing.
    create_only=frozenset({"tags", "recover"}),
    endpoints=frozenset({"vaultUri"}),
    case_insensitive=frozenset({"location", "tenantId", "sku", "networkAcls.bypass", "networkAcls.defaultAction"}),
)

AZURE_KEY = KindSpec(
    # identity: subscriptionId, resourceGroup, vault, name
    # attributes: kty, keySize (RSA) or curveName (EC), tags,
    #   rotationPolicy {rotateAfter, rotateBeforeExpiry, expiresAfter, notifyBefore} (ISO 8601; read from
    #   Key Vault's data plane only when declared)
    # outputs: id, keyUri (versionless), keyUriWithVersion, enabled, notBefore, expires (the current
    #   version's attributes, unix seconds or None), versionCreated
    kind="azure_key",
    plane="arm",
    immutable={
        "kty": "the type of an existing key cannot change; declare a new key",
        "keySize": "the size of an existing key cannot change; declare a new key",
        "curveName": "the curve of an existing key cannot change; declare a new key",
    },
    create_only=frozenset({"tags"}),
    case_insensitive=frozenset({"kty", "curveName"}),
)

AZUREAD_SERVICE_PRINCIPAL = KindSpec(
    # identity: appId ; attributes: none ; outputs: objectId
    kind="azuread_service_principal",
    plane="graph",
)

AZURE_ROLE_ASSIGNMENT = KindSpec(
    # identity: scope, roleDefinitionId (/subscriptions/S/providers/Microsoft.Authorization/roleDefinitions/G),
    #   principalId (object ID; may be Unknown until the principal exists)
    # attributes: principalType, description? (create-only: why cmkctl made it, for grants no manifest line declares)
    # outputs: id, name
    kind="azure_role_assignment",
    plane="arm",
    immutable={"principalType": "a role assignment cannot be updated, only replaced"},
    create_only=frozenset({"description"}),
    case_insensitive=frozenset({"principalType"}),
)

AWS_KMS_KEY = KindSpec(
    # identity: accountId, region, alias (alias/NAME)
    # attributes: description, enableKeyRotation, keySpec, keyUsage, tags,
    #   policy[SID] (one per declared statement, canonical; see reconciler.core.kms_policy)
    # outputs: arn, keyId, keyState, policyDocument (the whole live policy)
    kind="aws_kms_key",
    plane="aws",
    immutable={
        "keySpec": "the key spec of an existing KMS key cannot change; declare a new key",
        "keyUsage": "the key usage of an existing KMS key cannot change; declare a new key",
    },
    # A key found by its alias but created by hand keeps its tags.
    create_only=frozenset({"tags"}),
)

# The kinds every system shares; reconciler.plugins.PluginTable.kinds adds each plug-in's own.
CORE_KINDS: tuple[KindSpec, ...] = (AZURE_VAULT, AZURE_KEY, AZURE_ROLE_ASSIGNMENT)
