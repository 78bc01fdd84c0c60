from __future__ import annotations

from reconciler.core.kinds import AWS_KMS_KEY, AZURE_KEY, AZURE_VAULT
from reconciler.engine.diff import choose_action, matches
from reconciler.plan.model import Action, Unknown
from reconciler.systems.astra.kinds import ASTRA_PROVIDER_ACCOUNTS, ASTRA_REGISTRATION
from reconciler.systems.confluent import CONFLUENT_CLUSTER
from reconciler.systems.mongo import MONGO_CLUSTER

VAULT = {"location": "eastus", "enableRbacAuthorization": True, "enablePurgeProtection": True,
         "networkAcls": {"bypass": "AzureServices"}, "tags": {"managed-by": "cmkctl"}}


def test_absent_object_is_created_and_irreversible_when_purge_protection_is_declared() -> None:
    decision = choose_action(AZURE_VAULT, VAULT, None)
    assert decision.action is Action.CREATE
    assert decision.irreversible
    assert [c.name for c in decision.changes] == list(VAULT)


def test_server_defaults_and_undeclared_fields_are_not_changes() -> None:
    live = {**VAULT, "location": "EastUS", "softDeleteRetentionInDays": 90, "vaultUri": "https://v.vault.azure.net/",
            "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": []},
            "tags": {"managed-by": "cmkctl", "owner": "someone"}}
    assert choose_action(AZURE_VAULT, VAULT, live).action is Action.NOOP


def test_declared_difference_is_an_update() -> None:
    live = {**VAULT, "enableRbacAuthorization": False}
    decision = choose_action(AZURE_VAULT, VAULT, live)
    assert decision.action is Action.UPDATE
    assert [(c.name, c.before, c.after) for c in decision.changes] == [("enableRbacAuthorization", False, True)]
    assert not decision.irreversible


def test_turning_purge_protection_on_is_an_irreversible_update() -> None:
    decision = choose_action(AZURE_VAULT, VAULT, {**VAULT, "enablePurgeProtection": False})
    assert decision.action is Action.UPDATE and decision.irreversible
    assert "never be turned off" in decision.reason


def test_turning_purge_protection_off_is_forbidden() -> None:
    decision = choose_action(AZURE_VAULT, {**VAULT, "enablePurgeProtection": False}, VAULT)
    assert decision.action is Action.FORBIDDEN


def test_changing_an_immutable_field_is_forbidden() -> None:
    decision = choose_action(AZURE_KEY, {"kty": "RSA", "keySize": 4096}, {"kty": "RSA", "keySize": 3072})
    assert decision.action is Action.FORBIDDEN
    assert "keySize" in decision.reason


def test_registering_another_key_where_one_is_registered_is_forbidden() -> None:
    decision = choose_action(ASTRA_REGISTRATION, {"keyId": Unknown("azure_key.eastus.v/k", "keyUri")},
                             {"keyId": "https://other.vault.azure.net/keys/k"})
    assert decision.action is Action.FORBIDDEN
    assert "support ticket" in decision.reason


def test_new_registration_is_irreversible() -> None:
    decision = choose_action(ASTRA_REGISTRATION, {"keyId": "https://v.vault.azure.net/keys/k"}, None)
    assert decision.action is Action.CREATE and decision.irreversible


def test_lookups_are_reads() -> None:
    assert choose_action(ASTRA_PROVIDER_ACCOUNTS, {}, {"providerIds": ["a"]}).action is Action.READ


def test_unknown_never_matches() -> None:
    assert not matches(Unknown("a", "b"), "anything")
    assert matches({"a": 1}, {"a": 1, "b": 2})
    assert not matches({"a": 1}, None)


def test_create_only_attributes_are_not_compared() -> None:
    decision = choose_action(AZURE_KEY, {"kty": "RSA", "tags": {"managed-by": "cmkctl"}}, {"kty": "RSA", "tags": {}})
    assert decision.action is Action.NOOP


# Case: only where the plane itself ignores it.

def test_a_tag_or_a_description_that_differs_only_in_case_is_drift() -> None:
    assert not matches({"owner": "ACME"}, {"owner": "acme"})
    decision = choose_action(AWS_KMS_KEY, {"description": "ACME"}, {"description": "acme"})
    assert decision.action is Action.UPDATE
    assert [(c.before, c.after) for c in decision.changes] == [("acme", "ACME")]


def test_a_string_that_merely_looks_like_an_arm_id_is_compared_exactly_where_the_field_is_not_one() -> None:
    decision = choose_action(AWS_KMS_KEY, {"description": "/subscriptions/ABC"}, {"description": "/subscriptions/abc"})
    assert decision.action is Action.UPDATE


def test_a_confluent_enum_is_compared_exactly() -> None:
    # Confluent's API spells its enums in one case; only ARM's are case-insensitive.
    decision = choose_action(CONFLUENT_CLUSTER, {"cloud": "AZURE", "cku": 2}, {"cloud": "azure", "cku": 2})
    assert decision.action is Action.FORBIDDEN and [c.name for c in decision.changes] == ["cloud"]


def test_arm_ids_guids_locations_and_enums_are_compared_without_case_by_field() -> None:
    tenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    live = {**VAULT, "location": "EastUS", "tenantId": tenant.upper(), "sku": "Standard",
            "networkAcls": {"bypass": "azureservices", "defaultAction": "ALLOW"}}
    declared = {**VAULT, "tenantId": tenant, "sku": "standard", "networkAcls": {"bypass": "AzureServices",
                                                                              "defaultAction": "Allow"}}
    assert choose_action(AZURE_VAULT, declared, live).action is Action.NOOP
    assert choose_action(AZURE_KEY, {"kty": "RSA-HSM", "keySize": 3072}, {"kty": "rsa-hsm", "keySize": 3072}).action \
        is Action.NOOP
    identity = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
    cmk = {"keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity",
                                        "userAssignedIdentityResourceId": identity},
           "keyEncryptionKeyUrl": "https://v.vault.azure.net/keys/k"}
    live_cmk = {"keyEncryptionKeyIdentity": {"identityType": "userassignedidentity",
                                             "userAssignedIdentityResourceId": identity.lower()},
                "keyEncryptionKeyUrl": "https://v.vault.azure.net/keys/k"}
    assert choose_action(MONGO_CLUSTER, {"customerManagedKeyEncryption": cmk},
                         {"customerManagedKeyEncryption": live_cmk}).action is Action.NOOP


def test_a_key_url_is_not_an_arm_id() -> None:
    cmk = {"keyEncryptionKeyUrl": "https://v.vault.azure.net/keys/K"}
    decision = choose_action(MONGO_CLUSTER, {"customerManagedKeyEncryption": cmk},
                             {"customerManagedKeyEncryption": {"keyEncryptionKeyUrl": "https://v.vault.azure.net/keys/k"}})
    assert decision.action is Action.UPDATE
