"""Azure pieces that need no server: bodies, names, URIs, credentials."""

from __future__ import annotations

import pytest

from reconciler.core.errors import ProviderError
from reconciler.providers.azure_authorization import assignment_name, role_guid, same_scope
from reconciler.providers.azure_common import normalize_uri
from reconciler.providers.azure_keyvault import key_live, vault_create_body, vault_live, vault_patch_body

TENANT = "11111111-1111-1111-1111-111111111111"
SUBSCRIPTION = "/subscriptions/22222222-2222-2222-2222-222222222222"
SCOPE = f"{SUBSCRIPTION}/resourceGroups/cmk-prod/providers/Microsoft.KeyVault/vaults/v"
ROLE_GUID = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_GUID}"
PRINCIPAL = "59e617e5-e447-4adc-8b88-00af644d7c92"


def vault_attributes(**overrides: object) -> dict[str, object]:
    attributes: dict[str, object] = {
        "location": "eastus",
        "tenantId": TENANT,
        "sku": "standard",
        "enableRbacAuthorization": True,
        "enablePurgeProtection": True,
        "softDeleteRetentionInDays": 90,
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny"},
        "tags": {"managed-by": "cmkctl"},
    }
    attributes.update(overrides)
    return attributes


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("https://V.vault.azure.net:443/keys/k", "https://v.vault.azure.net/keys/k"),
        ("https://v.vault.azure.net:443/keys/k/fd618d95", "https://v.vault.azure.net/keys/k/fd618d95"),
        ("https://v.vault.azure.net/", "https://v.vault.azure.net"),
        ("https://127.0.0.1:8443/keys/k", "https://127.0.0.1:8443/keys/k"),
    ],
)
def test_key_vault_uris_are_normalised(uri: str, normal: str) -> None:
    assert normalize_uri(uri) == normal


def test_purge_protection_false_is_never_sent() -> None:
    body = vault_create_body(vault_attributes(enablePurgeProtection=False))
    assert "enablePurgeProtection" not in body["properties"]
    assert vault_create_body(vault_attributes())["properties"]["enablePurgeProtection"] is True


def test_create_body_is_explicit_about_rbac_and_soft_delete() -> None:
    properties = vault_create_body(vault_attributes(enableRbacAuthorization=False))["properties"]
    assert properties["enableRbacAuthorization"] is False
    assert properties["enableSoftDelete"] is True
    assert properties["accessPolicies"] == []
    assert properties["sku"] == {"family": "A", "name": "standard"}


def test_patch_carries_only_changes_and_keeps_foreign_network_rules_and_tags() -> None:
    live = vault_live(
        {
            "location": "eastus",
            "tags": {"owner": "sec"},
            "properties": {
                "tenantId": TENANT,
                "sku": {"name": "standard"},
                "enableRbacAuthorization": True,
                "softDeleteRetentionInDays": 90,
                "vaultUri": "https://v.vault.azure.net/",
            },
        }
    )
    current = {"properties": {"networkAcls": {"ipRules": [{"value": "10.0.0.0/8"}]}}}
    desired = vault_attributes(tags={"managed-by": "cmkctl"})
    body = vault_patch_body(desired, live, current)
    assert body["properties"] == {
        "enablePurgeProtection": True,
        "networkAcls": {
            "ipRules": [{"value": "10.0.0.0/8"}],
            "bypass": "AzureServices",
            "defaultAction": "Deny",
        },
    }
    assert body["tags"] == {"owner": "sec", "managed-by": "cmkctl"}


@pytest.mark.parametrize("change", [{"location": "westus"}, {"softDeleteRetentionInDays": 7}])
def test_patch_refuses_fixed_attributes(change: dict[str, object]) -> None:
    live = vault_live({"location": "eastus", "properties": {"tenantId": TENANT, "softDeleteRetentionInDays": 90}})
    with pytest.raises(ProviderError):
        vault_patch_body({**vault_attributes(), **change}, live, {})


def test_patch_refuses_to_turn_purge_protection_off() -> None:
    live = vault_live({"location": "eastus", "properties": {"tenantId": TENANT, "enablePurgeProtection": True}})
    with pytest.raises(ProviderError, match="never be turned off"):
        vault_patch_body({"enablePurgeProtection": False}, live, {})


def test_vault_defaults_when_absent() -> None:
    live = vault_live({"location": "eastus", "properties": {"tenantId": TENANT}})
    assert live["enablePurgeProtection"] is False
    assert live["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Allow"}
    assert live["tags"] == {}


def test_key_uris_are_versionless_and_portless() -> None:
    live = key_live(
        {
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/keys/k",
            "properties": {
                "kty": "RSA",
                "keySize": 2048,
                "keyUri": "https://v.vault.azure.net:443/keys/k",
                "keyUriWithVersion": "https://v.vault.azure.net:443/keys/k/fd618d9519b74f9aae94ade66b876acc",
            },
        }
    )
    assert live["keyUri"] == "https://v.vault.azure.net/keys/k"
    assert live["keyUriWithVersion"] == "https://v.vault.azure.net/keys/k/fd618d9519b74f9aae94ade66b876acc"
    assert "curveName" not in live and live["keySize"] == 2048


def test_assignment_name_is_deterministic() -> None:
    name = assignment_name(SCOPE, ROLE, PRINCIPAL)
    assert name == assignment_name(
        SCOPE.upper() + "/",
        ROLE.removeprefix(SUBSCRIPTION),
        PRINCIPAL.upper(),
    )
    assert name != assignment_name(SCOPE, ROLE.replace("e147488a", "21090545"), PRINCIPAL)


def test_role_and_scope_comparisons() -> None:
    assert role_guid(f"/providers/Microsoft.Authorization/roleDefinitions/{ROLE_GUID.upper()}") == ROLE_GUID
    assert same_scope(SCOPE.lower(), SCOPE + "/")


def test_default_credential_is_built_only_when_called() -> None:
    from reconciler.providers.azure_common import default_azure_credential

    credential = default_azure_credential()
    assert hasattr(credential, "get_token")
    credential.close()


def test_hsm_keys_reads_the_type_arm_lists_leave_out() -> None:
    """ARM's list of keys carries no kty (the published listKeys example has none): a key the list does
    not type is read, one the list types is not."""
    from types import SimpleNamespace
    from typing import Any

    from reconciler.providers.azure_keyvault import hsm_keys
    from reconciler.providers.cache import RunCache

    listed = [{"name": "untyped-hsm", "kty": None}, {"name": "untyped-soft", "kty": None},
              {"name": "typed-hsm", "kty": "EC-HSM"}, {"name": "typed-soft", "kty": "RSA"}]
    types = {"untyped-hsm": "RSA-HSM", "untyped-soft": "RSA"}
    read: list[str] = []

    def get(group: str, vault: str, name: str) -> Any:
        read.append(name)
        return SimpleNamespace(as_dict=lambda: {"name": name, "properties": {"kty": types[name]}})

    session = SimpleNamespace(lists=RunCache(), check_subscription=lambda s: s,
                              client=lambda cls, s: SimpleNamespace(keys=SimpleNamespace(get=get, list=lambda g, v: [])))
    session.lists.put(("vaultKeys", "s", "rg", "v"), listed)
    assert hsm_keys(session, {"subscriptionId": "s", "resourceGroup": "rg", "name": "v"}) == [  # type: ignore[arg-type]
        "typed-hsm", "untyped-hsm"]
    assert read == ["untyped-hsm", "untyped-soft"]
