"""The Astra DevOps API emulation: provider accounts and one key per provider-region."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cmkctl_sandbox import Sandbox
from tests.sandbox.conftest import client_for

KEY = "https://kv-astra.vault.azure.net/keys/cmk"


def accounts(client: httpx.Client, region: str, *, classic: bool = False, provider: str = "azure") -> list[str]:
    prefix = "/v2/kms/classic" if classic else "/v2/kms"
    found = client.get(f"{prefix}/provider/{provider}/region/{region}/accounts")
    assert found.status_code == 200
    return [entry["provider_id"] for entry in found.json()]


def register(client: httpx.Client, sandbox: Sandbox, region: str, *, classic: bool = False) -> httpx.Response:
    body = {"orgId": sandbox.state["astra"]["orgId"], "azure": {"keyIdentifier": KEY, "region": region}}
    return client.post("/v2/kms/classic" if classic else "/v2/kms", json=body)


def test_default_accounts(client: httpx.Client, sandbox: Sandbox) -> None:
    assert len(accounts(client, "eastus")) == 2
    assert len(accounts(client, "westeurope", classic=True)) == 2
    assert len(accounts(client, "westus2")) == 1
    entry = client.get("/v2/kms/provider/azure/region/westus2/accounts").json()[0]
    assert entry["organization_id"] == sandbox.state["astra"]["orgId"] and entry["provider"] == "azure"
    aws = accounts(client, "us-east-1", provider="aws")
    assert len(aws) == 1 and len(aws[0]) == 12 and aws[0].isdigit()


def test_accounts_are_deterministic_across_sandboxes(tmp_path: Path) -> None:
    seen = []
    for name in ("one", "two"):
        with Sandbox(tmp_path / name) as sandbox, client_for(sandbox) as client:
            seen.append(accounts(client, "eastus"))
    assert seen[0] == seen[1]


def test_one_key_per_provider_region(client: httpx.Client, sandbox: Sandbox) -> None:
    first = register(client, sandbox, "eastus")
    assert first.status_code == 200 and first.content == b""
    second = register(client, sandbox, "eastus")
    assert second.status_code == 400
    message = second.json()["errors"][0]["message"]
    assert "already registered" in message and "support ticket" in message
    assert isinstance(second.json()["errors"][0]["ID"], int)
    # Classic (managed clusters) keeps its own keys.
    assert register(client, sandbox, "eastus", classic=True).status_code == 200
    listed = client.get("/v2/kms").json()
    assert listed == [
        {"OrganizationID": sandbox.state["astra"]["orgId"], "CloudProvider": "azure", "KeyID": KEY, "Region": "eastus"}
    ]
    one = client.get("/v2/kms/classic/provider/azure/region/eastus").json()
    assert one == {"orgId": sandbox.state["astra"]["orgId"], "azure": {"keyID": KEY, "region": "eastus"}}
    assert client.get("/v2/kms/provider/azure/region/westus2").status_code == 404


@pytest.mark.nonconforming("sends registrations the definition or the procedure forbid, to see them refused")
def test_register_validates_body(client: httpx.Client, sandbox: Sandbox) -> None:
    org = sandbox.state["astra"]["orgId"]
    assert client.post("/v2/kms", json={"azure": {"keyIdentifier": KEY, "region": "eastus"}}).status_code == 400
    assert client.post("/v2/kms", json={"orgId": org, "azure": {"region": "eastus"}}).status_code == 400
    versioned = {"orgId": org, "azure": {"keyIdentifier": KEY + "/0123456789abcdef0123456789abcdef",
                                         "region": "eastus"}}
    assert client.post("/v2/kms", json=versioned).status_code == 400
    # The third-party schema's spelling is not what cmkctl sends (the procedure's keyIdentifier): refused.
    assert client.post("/v2/kms", json={"orgId": org, "azure": {"keyID": KEY, "region": "centralus"}}).status_code == 400
    accepted = client.post("/v2/kms", json={"orgId": org, "azure": {"keyIdentifier": KEY, "region": "centralus"}})
    assert accepted.status_code == 200


@pytest.mark.nonconforming("calls Astra without a token, to see it refused")
def test_astra_needs_token(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        refused = client.get("/v2/kms", headers={"Authorization": ""})
    assert refused.status_code == 401 and "errors" in refused.json()


@pytest.mark.nonconforming("sends provider filters the definition does not list, to see them refused")
def test_the_database_provider_filter_is_spelled_as_the_definition_lists_it(tmp_path: Path) -> None:
    (tmp_path / "world.yaml").write_text("astra:\n  databases:\n"
                                         "    - {name: orders, cloudProvider: AZURE, region: eastus}\n"
                                         "    - {name: legacy, cloudProvider: AWS, region: us-east-1}\n")
    with Sandbox(tmp_path) as sandbox, client_for(sandbox) as client:
        assert [db["info"]["name"] for db in client.get("/v2/databases", params={"provider": "Azure"}).json()] == [
            "orders"]
        assert len(client.get("/v2/databases").json()) == 2
        for unlisted in ("AZURE", "azure", "ORACLE"):
            refused = client.get("/v2/databases", params={"provider": unlisted})
            assert refused.status_code == 400 and "ALL, GCP, AWS, Azure" in refused.json()["errors"][0]["message"]
