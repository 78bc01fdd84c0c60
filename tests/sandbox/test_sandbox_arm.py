"""Key Vault and key rules of the ARM emulation, over real HTTPS."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cmkctl_sandbox import Sandbox
from tests.sandbox.conftest import API, RG, SUB, client_for, vault_body, vault_path

PURGE_FALSE = "cannot be set to false"


def tenant(sandbox: Sandbox) -> str:
    tenant_id: str = sandbox.state["graph"]["tenantId"]
    return tenant_id


def create_vault(client: httpx.Client, sandbox: Sandbox, name: str, **properties: object) -> httpx.Response:
    return client.put(vault_path(name), params=API, json=vault_body(tenant(sandbox), **properties))


@pytest.mark.lags(vaultCreate=19)
def test_vault_create_is_long_running_then_succeeds(client: httpx.Client, sandbox: Sandbox) -> None:
    created = create_vault(client, sandbox, "kv-one", enablePurgeProtection=True)
    # As the live recording answers: 200, RegisteringDns, no Retry-After (the SDK polls after its own interval).
    assert created.status_code == 200
    assert "Retry-After" not in created.headers
    props = created.json()["properties"]
    assert props["provisioningState"] == "RegisteringDns"
    # The vault's own host, as Key Vault names it (the emulator answers it through a host mapping).
    assert props["vaultUri"] == "https://kv-one.vault.azure.net/"
    assert props["enableSoftDelete"] is True
    # Never set by the request: left out, as live ARM answers; the defaults still hold.
    assert "softDeleteRetentionInDays" not in props and "networkAcls" not in props
    held = sandbox.state["arm"]["vaults"]["kv-one"]["resource"]["properties"]
    assert held["softDeleteRetentionInDays"] == 90
    assert held["networkAcls"]["bypass"] == "AzureServices"
    # Registering the name takes some 19 s of the emulator's time (the recording's); GETs say so until then.
    assert client.get(vault_path("kv-one"), params=API).json()["properties"]["provisioningState"] == "RegisteringDns"
    sandbox.offer.clock.sleep(20)
    polled = client.get(vault_path("kv-one"), params=API)
    assert polled.status_code == 200
    assert polled.json()["properties"]["provisioningState"] == "Succeeded"
    assert polled.json()["id"] == vault_path("kv-one")


def test_purge_protection_omitted_until_on(client: httpx.Client, sandbox: Sandbox) -> None:
    props = create_vault(client, sandbox, "kv-plain").json()["properties"]
    assert "enablePurgeProtection" not in props
    # Never set, it is not answered, and the vault is an access-policy vault (the createVault example).
    assert "enableRbacAuthorization" not in props
    assert sandbox.state["arm"]["vaults"]["kv-plain"]["resource"]["properties"]["enableRbacAuthorization"] is False


def test_properties_a_request_set_are_answered_from_then_on(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-sparse")
    patched = client.patch(vault_path("kv-sparse"), params=API,
                           json={"properties": {"networkAcls": {"defaultAction": "Deny"}}}).json()["properties"]
    assert patched["networkAcls"]["defaultAction"] == "Deny"
    assert "softDeleteRetentionInDays" not in patched
    listed = client.get(vault_path("kv-sparse").rsplit("/", 1)[0], params=API).json()["value"][0]["properties"]
    assert "networkAcls" in listed and "enableRbacAuthorization" not in listed


def test_purge_protection_false_is_rejected_on_create_and_patch(client: httpx.Client, sandbox: Sandbox) -> None:
    refused = create_vault(client, sandbox, "kv-nope", enablePurgeProtection=False)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BadRequest"
    assert PURGE_FALSE in refused.json()["error"]["message"]
    assert "Retry-After" not in refused.headers
    assert "kv-nope" not in sandbox.state["arm"]["vaults"]
    create_vault(client, sandbox, "kv-on", enablePurgeProtection=True)
    patched = client.patch(vault_path("kv-on"), params=API, json={"properties": {"enablePurgeProtection": False}})
    assert patched.status_code == 400 and PURGE_FALSE in patched.json()["error"]["message"]


def test_purge_protection_stays_on_after_put_without_it(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-keep", enablePurgeProtection=True)
    updated = create_vault(client, sandbox, "kv-keep")
    assert updated.status_code == 200
    assert updated.json()["properties"]["enablePurgeProtection"] is True


def test_retention_is_fixed_at_creation(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-ret", softDeleteRetentionInDays=30)
    changed = create_vault(client, sandbox, "kv-ret", softDeleteRetentionInDays=60)
    assert changed.status_code == 400
    assert "softDeleteRetentionInDays" in changed.json()["error"]["message"]


def test_patch_merges_properties_and_replaces_tags(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-patch")
    body = {"tags": {"team": "db"}, "properties": {"networkAcls": {"defaultAction": "Deny"}}}
    patched = client.patch(vault_path("kv-patch"), params=API, json=body).json()
    assert patched["tags"] == {"team": "db"}
    assert patched["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert patched["properties"]["networkAcls"]["bypass"] == "AzureServices"
    assert patched["properties"]["sku"]["name"] == "standard"


def test_soft_deleted_name_conflicts(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-gone")
    assert client.delete(vault_path("kv-gone"), params=API).status_code == 200
    again = create_vault(client, sandbox, "kv-gone")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ConflictError"
    assert "already exists in deleted state" in again.json()["error"]["message"]
    recovered = create_vault(client, sandbox, "kv-gone", createMode="recover")
    assert recovered.status_code == 200


def test_vault_names_are_global_and_validated(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-global")
    elsewhere = client.put(vault_path("kv-global", rg="other"), params=API, json=vault_body(tenant(sandbox)))
    assert elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "VaultAlreadyExists"
    assert create_vault(client, sandbox, "x").json()["error"]["code"] == "VaultNameNotValid"
    assert create_vault(client, sandbox, "1starts-with-digit").status_code == 400


def test_missing_vault_is_404_and_list_by_group(client: httpx.Client, sandbox: Sandbox) -> None:
    missing = client.get(vault_path("kv-none"), params=API)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    create_vault(client, sandbox, "kv-listed")
    listed = client.get(f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults", params=API)
    assert [v["name"] for v in listed.json()["value"]] == ["kv-listed"]


def test_key_create_if_not_exist_returns_existing_unchanged(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-keys", enablePurgeProtection=True)
    key_path = vault_path("kv-keys") + "/keys/cmk"
    first = client.put(key_path, params=API, json={"properties": {"kty": "RSA", "keySize": 3072}})
    assert first.status_code == 200
    props = first.json()["properties"]
    assert props["keyUri"] == "https://kv-keys.vault.azure.net/keys/cmk"
    assert props["keyUriWithVersion"].startswith(props["keyUri"] + "/")
    assert len(props["keyUriWithVersion"].rsplit("/", 1)[1]) == 32
    assert props["attributes"]["recoveryLevel"] == "Recoverable"
    second = client.put(key_path, params=API, json={"properties": {"kty": "EC", "curveName": "P-384"}})
    assert second.status_code == 200
    assert second.json() == first.json()
    versions = client.get(key_path + "/versions", params=API).json()["value"]
    assert len(versions) == 1
    listed = client.get(vault_path("kv-keys") + "/keys", params=API).json()["value"]
    assert [k["name"] for k in listed] == ["cmk"]


def test_key_needs_vault(client: httpx.Client) -> None:
    refused = client.put(vault_path("kv-absent") + "/keys/k", params=API, json={"properties": {"kty": "RSA"}})
    assert refused.status_code == 404


@pytest.mark.nonconforming("sends ARM requests without a token or an api-version, to see them refused")
def test_arm_needs_token_and_api_version(sandbox: Sandbox, tmp_path: Path) -> None:
    with client_for(sandbox) as http:
        assert http.get(vault_path("kv"), headers={"Authorization": ""}, params=API).status_code == 401
        missing_version = http.get(vault_path("kv"))
        assert missing_version.status_code == 400
        assert missing_version.json()["error"]["code"] == "MissingApiVersionParameter"


def test_a_vault_in_a_location_azure_does_not_have_is_refused_as_arm_refuses_it(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    refused = client.put(vault_path("kv-nowhere"), params=API,
                         json={**vault_body(tenant(sandbox)), "location": "westeurop"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "LocationNotAvailableForResourceType"
    assert error["message"].startswith("The provided location 'westeurop' is not available for resource type "
                                       "'Microsoft.KeyVault/vaults'. List of available regions for the resource "
                                       "type is 'northcentralus,eastus,")
    assert client.get(vault_path("kv-nowhere"), params=API).status_code == 404
    written = client.put(vault_path("kv-west"), params=API, json={**vault_body(tenant(sandbox)), "location": "West Europe"})
    assert written.status_code == 200
