"""What each kind of object is, independent of how a provider reaches it.

The planner reads this table to decide what may change, what is irreversible and what must be
refused; providers implement reading and writing. Identity, attribute and output names are the
contract between the two, spelled as the control plane spells them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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


AZURE_VAULT = KindSpec(
    # identity: subscriptionId, resourceGroup, name
    # attributes: location, tenantId, sku, enableRbacAuthorization, enablePurgeProtection,
    #   softDeleteRetentionInDays, networkAcls {bypass, defaultAction}, tags
    # outputs: id, vaultUri
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
    # cmkctl tags what it creates; a vault made by hand and adopted keeps its own tags.
    create_only=frozenset({"tags"}),
)

AZURE_KEY = KindSpec(
    # identity: subscriptionId, resourceGroup, vault, name
    # attributes: kty, keySize (RSA) or curveName (EC), tags
    # outputs: id, keyUri (versionless), keyUriWithVersion
    kind="azure_key",
    plane="arm",
    immutable={
        "kty": "the type of an existing key cannot change; declare a new key",
        "keySize": "the size of an existing key cannot change; declare a new key",
        "curveName": "the curve of an existing key cannot change; declare a new key",
    },
    create_only=frozenset({"tags"}),
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
)

ASTRA_PROVIDER_ACCOUNTS = KindSpec(
    # identity: product (serverless | managed-clusters), cloud (azure | aws | gcp), region
    # outputs: providerIds (list of strings, in the order Astra lists them)
    kind="astra_provider_accounts",
    plane="astra",
    read_only=True,
)

ASTRA_REGISTRATION = KindSpec(
    # identity: organizationId, product, cloud, region ; attributes: keyId ; outputs: none
    kind="astra_registration",
    plane="astra",
    immutable={
        "keyId": "Astra keeps one key per provider and region; replacing it takes a support ticket",
    },
    irreversible_create="Astra cannot unregister a key: removing it takes a support ticket",
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

# The kinds every system shares; reconciler.systems.KINDS adds each system's own.
CORE_KINDS: tuple[KindSpec, ...] = (AZURE_VAULT, AZURE_KEY, AZURE_ROLE_ASSIGNMENT)
