"""The emulator's default world has the clouds' lags, each in its own time; a configuration turns them off or sets them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmkctl_sandbox import Sandbox, realism
from cmkctl_sandbox.faults import FaultConfigError, parse_config
from tests.conftest import ROOT
from tests.emulated import http_client
from tests.sandbox.conftest import RG, SUB, vault_path
from tests.sandbox.test_sandbox_rbac_graph import READER, assign, create_sp

TENANT = "11111111-1111-1111-1111-111111111111"
VAULT = "kv-kafka"
CRYPTO_USER = (
    f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6"
)
# A vault Confluent can use; what is measured here is time.
WORLD = {
    "azure": {"tenantId": TENANT,
              "vaults": [{"subscription": SUB, "resourceGroup": RG, "name": VAULT, "location": "eastus",
                          "enablePurgeProtection": True, "enableRbacAuthorization": True,
                          "keys": [{"name": "kafka", "kty": "RSA", "keySize": 3072}]}]},
    "confluent": {"validationReads": 0},
}
BYOK = {"key": {"kind": "AzureKey", "key_id": f"https://{VAULT}.vault.azure.net/keys/kafka",
                "key_vault_id": vault_path(VAULT), "tenant_id": TENANT}}


def later(sandbox: Sandbox, seconds: float) -> None:
    """Let `seconds` of the emulator's time pass, as a client's sleep on its clock does."""
    sandbox.advance_clock(sandbox.clock_offset + seconds)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    (tmp_path / "world.yaml").write_text(json.dumps(WORLD))
    with Sandbox(tmp_path) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with http_client(sandbox) as http:
        yield http


def test_the_default_world_has_every_lag_at_its_documented_default(sandbox: Sandbox) -> None:
    assert sandbox.state["realism"] == {
        "grantPropagation": 300.0, "principalReplication": 10.0, "confluentValidation": 30.0,
        "vaultCreate": 19.0, "mongoClusterCreate": 489.0, "mongoClusterUpdate": 30.0,
        "cassandraClusterCreate": 302.0, "cassandraDataCenterCreate": 30.0, "cassandraUpdate": 30.0}
    assert sandbox.state["realism"] == dict(realism.DEFAULTS)


@pytest.mark.parametrize(("configured", "expected"), [
    ("realism: off\n", dict.fromkeys(realism.DEFAULTS, 0.0)),
    ("realism: {grantPropagation: 60}\n", {**realism.DEFAULTS, "grantPropagation": 60.0}),
    ("realism: on\n", dict(realism.DEFAULTS)),
    # A grantLag fault is the grant's lag, whatever realism says.
    ("realism: off\ngrantLag: {seconds: 900}\n", {**realism.OFF, "grantPropagation": 900.0}),
    ("grantLag: {attempts: 2}\n", {**realism.DEFAULTS, "grantPropagation": 0.0}),
])
def test_the_faults_configuration_turns_lags_off_or_sets_them(tmp_path: Path, configured: str,
                                                               expected: dict[str, float]) -> None:
    (tmp_path / "faults.yaml").write_text(configured)
    with Sandbox(tmp_path) as sandbox:
        assert sandbox.state["realism"] == expected


def test_a_test_sets_the_lags_whole(tmp_path: Path) -> None:
    with Sandbox(tmp_path, realism=realism.OFF) as sandbox:
        assert sandbox.state["realism"] == dict(realism.OFF)


@pytest.mark.parametrize(("section", "said"), [
    ({"grantLag": 5}, "unknown lag(s) grantLag; known: grantPropagation, principalReplication, confluentValidation"),
    ({"grantPropagation": -1}, "realism.grantPropagation: a number of seconds, 0 or more"),
    ({"grantPropagation": "5m"}, "realism.grantPropagation: a number of seconds"),
    (5, "expected off, on, or a mapping of lags to seconds"),
])
def test_a_realism_section_it_cannot_read_is_refused(section: Any, said: str) -> None:
    with pytest.raises(FaultConfigError, match=r"faults\.yaml\.realism") as raised:
        parse_config({"realism": section})
    assert said in str(raised.value)


def test_a_new_service_principal_is_invisible_to_rbac_for_its_lag(sandbox: Sandbox, client: httpx.Client) -> None:
    principal = create_sp(client, str(uuid.uuid4())).json()["id"]
    name = str(uuid.uuid4())
    assert assign(client, name, principal, scope=vault_path(VAULT)).json()["error"]["code"] == "PrincipalNotFound"
    later(sandbox, 8)
    assert assign(client, name, principal, scope=vault_path(VAULT)).json()["error"]["code"] == "PrincipalNotFound"
    later(sandbox, 3)
    assert assign(client, name, principal, scope=vault_path(VAULT)).status_code == 201


def grant_both(client: httpx.Client, principal: str) -> None:
    for role in (CRYPTO_USER, READER):
        assert assign(client, str(uuid.uuid4()), principal, role=role, scope=vault_path(VAULT)).status_code == 201


def validation(client: httpx.Client, key_id: str) -> dict[str, Any]:
    answer = client.get(f"/byok/v1/keys/{key_id}")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()["validation"]
    return found


def test_a_new_byok_key_is_initializing_then_invalid_while_its_grants_propagate_then_valid(
        sandbox: Sandbox, client: httpx.Client) -> None:
    key = client.post("/byok/v1/keys", json=BYOK).json()
    assert key["validation"]["phase"] == "INITIALIZING"
    principal = create_sp(client, key["key"]["application_id"]).json()["id"]
    later(sandbox, realism.DEFAULTS["principalReplication"])
    grant_both(client, principal)
    assert validation(client, key["id"])["phase"] == "INITIALIZING"  # 10 s of its 30 s
    later(sandbox, 25)
    invalid = validation(client, key["id"])
    assert (invalid["phase"], invalid["message"]) == ("INVALID", "Access to key denied.")
    # A cluster is refused while the key is not VALID, at the field that names it (never a 403).
    refused = client.post("/cmk/v2/clusters", json=cluster_body(key["id"]))
    (error,) = refused.json()["errors"]
    assert refused.status_code == 400 and error["source"] == {"pointer": "/spec/byok/id"}
    assert error["detail"] == f"BYOK key {key['id']} is not valid: Access to key denied."
    later(sandbox, 250)
    assert validation(client, key["id"])["phase"] == "INVALID"  # 5 minutes after the grants, not before
    later(sandbox, 30)
    valid = validation(client, key["id"])
    assert valid["phase"] == "VALID" and valid["since"] > invalid["since"]
    created = client.post("/cmk/v2/clusters", json=cluster_body(key["id"]))
    assert created.status_code == 202


def test_a_key_whose_grants_never_exist_stays_invalid(sandbox: Sandbox, client: httpx.Client) -> None:
    key = client.post("/byok/v1/keys", json=BYOK).json()
    create_sp(client, key["key"]["application_id"])
    later(sandbox, 24 * 3600)
    invalid = validation(client, key["id"])
    assert (invalid["phase"], invalid["message"]) == ("INVALID", "Access to key denied.")


def test_without_realism_a_key_is_valid_once_its_grants_exist(tmp_path: Path) -> None:
    (tmp_path / "world.yaml").write_text(json.dumps(WORLD))
    with Sandbox(tmp_path, realism=realism.OFF) as sandbox, http_client(sandbox) as client:
        key = client.post("/byok/v1/keys", json=BYOK).json()
        grant_both(client, create_sp(client, key["key"]["application_id"]).json()["id"])
        assert validation(client, key["id"])["phase"] == "VALID"
        assert sandbox.clock_offset == 0


def cluster_body(byok_id: str) -> dict[str, Any]:
    return {"spec": {"display_name": "orders", "availability": "MULTI_ZONE", "cloud": "AZURE", "region": "eastus",
                     "config": {"kind": "Dedicated", "cku": 2}, "environment": {"id": "env-a1b2c3"},
                     "byok": {"id": byok_id}}}


def test_the_emulators_readme_gives_each_lag_its_default_and_its_source() -> None:
    readme = (ROOT / "cmkctl_sandbox" / "README.md").read_text("utf-8")
    for lag in realism.LAGS:
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{lag.name}` |")]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == f"{lag.seconds:g} s", row
        assert cells[3], row  # a source, or "none" with where the sourceless list says so
