"""Contract: vaults and keys against the sandbox's ARM."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.errors import ProviderError
from reconciler.providers.registry import Handlers

from .canary import SENT, assert_no_canary
from .conftest import RESOURCE_GROUP, SUBSCRIPTION

VAULT = {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "acme-astra-eastus"}
KEY = {
    "subscriptionId": SUBSCRIPTION,
    "resourceGroup": RESOURCE_GROUP,
    "vault": VAULT["name"],
    "name": "astra-eastus",
}
KEY_ATTRIBUTES = {"kty": "RSA", "keySize": 3072, "tags": {"managed-by": "cmkctl"}}


def vault_attributes(tenant_id: str, **overrides: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "location": "eastus",
        "tenantId": tenant_id,
        "sku": "standard",
        "enableRbacAuthorization": True,
        "enablePurgeProtection": True,
        "softDeleteRetentionInDays": 90,
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny"},
        "tags": {"managed-by": "cmkctl", "cmkctl-set": "acme-prod"},
    }
    attributes.update(overrides)
    return attributes


def declared(live: dict[str, Any] | None, attributes: dict[str, Any]) -> dict[str, Any]:
    assert live is not None
    return {name: live.get(name) for name in attributes}


def test_absent_vault_reads_as_none(handlers: Handlers) -> None:
    assert handlers.by_kind["azure_vault"].read(identity=VAULT) is None


def test_created_vault_reads_back_as_declared(handlers: Handlers, tenant_id: str, sandbox: Any) -> None:
    vaults = handlers.by_kind["azure_vault"]
    attributes = vault_attributes(tenant_id)
    created = vaults.create(identity=VAULT, attributes=attributes)
    live = vaults.read(identity=VAULT)
    assert declared(live, attributes) == attributes
    assert live == created
    # ARM's vaultUri names the vault's own host, as Key Vault does (the emulator answers it there).
    assert live is not None and live["vaultUri"] == "https://acme-astra-eastus.vault.azure.net"
    assert live["id"].lower().endswith("/vaults/acme-astra-eastus")


def test_vault_without_purge_protection_is_created(handlers: Handlers, tenant_id: str) -> None:
    # The sandbox, like ARM, answers 400 to enablePurgeProtection: false.
    attributes = vault_attributes(tenant_id, enablePurgeProtection=False)
    live = handlers.by_kind["azure_vault"].create(identity=VAULT, attributes=attributes)
    assert live["enablePurgeProtection"] is False


def test_creating_a_vault_twice_is_safe(handlers: Handlers, tenant_id: str) -> None:
    vaults = handlers.by_kind["azure_vault"]
    first = vaults.create(identity=VAULT, attributes=vault_attributes(tenant_id))
    second = vaults.create(identity=VAULT, attributes=vault_attributes(tenant_id))
    assert first == second


def test_update_patches_only_what_changed(handlers: Handlers, tenant_id: str, sandbox: Any) -> None:
    vaults = handlers.by_kind["azure_vault"]
    live = vaults.create(identity=VAULT, attributes=vault_attributes(tenant_id, enablePurgeProtection=False))
    wanted = vault_attributes(tenant_id, networkAcls={"bypass": "AzureServices", "defaultAction": "Allow"})
    updated = vaults.update(identity=VAULT, attributes=wanted, live=live)
    assert declared(updated, wanted) == wanted
    assert vaults.read(identity=VAULT) == updated
    assert [c["method"] for c in sandbox.calls()].count("PATCH") == 1


def test_purge_protection_cannot_be_turned_off(handlers: Handlers, tenant_id: str) -> None:
    vaults = handlers.by_kind["azure_vault"]
    live = vaults.create(identity=VAULT, attributes=vault_attributes(tenant_id))
    with pytest.raises(ProviderError, match="never be turned off"):
        vaults.update(identity=VAULT, attributes=vault_attributes(tenant_id, enablePurgeProtection=False), live=live)


@pytest.mark.world({"azure": {"softDeletedVaults": [{"name": VAULT["name"], "location": "eastus"}]}})
def test_soft_deleted_name_says_recover_or_purge(handlers: Handlers, tenant_id: str) -> None:
    vaults = handlers.by_kind["azure_vault"]
    assert vaults.read(identity=VAULT) is None
    with pytest.raises(ProviderError) as excinfo:
        vaults.create(identity=VAULT, attributes=vault_attributes(tenant_id))
    message = str(excinfo.value)
    assert "soft-deleted" in message and "recover" in message and "purge" in message
    assert excinfo.value.status == 409
    assert_no_canary(excinfo)


def test_absent_key_reads_as_none(handlers: Handlers, tenant_id: str) -> None:
    keys = handlers.by_kind["azure_key"]
    assert keys.read(identity=KEY) is None  # no vault either
    handlers.by_kind["azure_vault"].create(identity=VAULT, attributes=vault_attributes(tenant_id))
    assert keys.read(identity=KEY) is None


def test_created_key_reads_back_with_versionless_uri(handlers: Handlers, tenant_id: str) -> None:
    handlers.by_kind["azure_vault"].create(identity=VAULT, attributes=vault_attributes(tenant_id))
    keys = handlers.by_kind["azure_key"]
    created = keys.create(identity=KEY, attributes=KEY_ATTRIBUTES)
    live = keys.read(identity=KEY)
    assert live == created
    assert declared(live, KEY_ATTRIBUTES) == KEY_ATTRIBUTES
    assert live is not None
    assert live["keyUri"] == "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus"
    assert live["keyUriWithVersion"].startswith(live["keyUri"] + "/")
    assert ":443" not in live["keyUriWithVersion"]


def test_creating_a_key_twice_is_safe(handlers: Handlers, tenant_id: str) -> None:
    handlers.by_kind["azure_vault"].create(identity=VAULT, attributes=vault_attributes(tenant_id))
    keys = handlers.by_kind["azure_key"]
    first = keys.create(identity=KEY, attributes=KEY_ATTRIBUTES)
    assert keys.create(identity=KEY, attributes=KEY_ATTRIBUTES) == first


def test_an_existing_different_key_is_reported(handlers: Handlers, tenant_id: str) -> None:
    handlers.by_kind["azure_vault"].create(identity=VAULT, attributes=vault_attributes(tenant_id))
    keys = handlers.by_kind["azure_key"]
    keys.create(identity=KEY, attributes=KEY_ATTRIBUTES)
    with pytest.raises(ProviderError, match="keySize"):
        keys.create(identity=KEY, attributes={**KEY_ATTRIBUTES, "keySize": 4096})


def test_keys_are_never_updated(handlers: Handlers) -> None:
    with pytest.raises(ProviderError, match="never updates"):
        handlers.by_kind["azure_key"].update(identity=KEY, attributes=KEY_ATTRIBUTES, live={})


def test_key_in_a_missing_vault_fails_without_the_token(handlers: Handlers) -> None:
    with pytest.raises(ProviderError) as excinfo:
        handlers.by_kind["azure_key"].create(identity=KEY, attributes=KEY_ATTRIBUTES)
    assert excinfo.value.status == 404
    assert_no_canary(excinfo)


class Recorder:
    """A fault injector that injects nothing and keeps each request, to read what went on the wire."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def before(self, plane: str, request: Any) -> None:
        self.requests.append(request)


WIRE = Recorder()


@pytest.mark.faults({"arm": WIRE})
def test_vault_put_body_on_the_wire(handlers: Handlers, tenant_id: str) -> None:
    WIRE.requests.clear()
    attributes = vault_attributes(tenant_id, enablePurgeProtection=False, enableRbacAuthorization=True)
    handlers.by_kind["azure_vault"].create(identity=VAULT, attributes=attributes)
    (put,) = [r for r in WIRE.requests if r.method == "PUT"]
    properties = put.json()["properties"]
    assert "enablePurgeProtection" not in properties
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["accessPolicies"] == []
    assert put.header("authorization") == f"Bearer {SENT[-1]}"  # a token the emulator issued, as it was sent
