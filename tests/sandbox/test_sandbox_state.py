"""State on disk: persistence across sessions, atomic writes, the call journal, world.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import Sandbox, WorldError, load_state
from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.dispatcher import Dispatcher
from cmkctl_sandbox.show import describe
from cmkctl_sandbox.state import StateStore
from cmkctl_sandbox.wire import Reply, Request
from tests.sandbox.conftest import API, SUB, client_for, vault_body, vault_path

WORLD = f"""
azure:
  tenantId: 11111111-2222-3333-4444-555555555555
  replicationLag: {{seconds: 0}}
  softDeletedVaults: [kv-deleted, {{name: kv-deleted-too, location: westus}}]
  vaults:
    - subscription: {SUB}
      resourceGroup: rg-cmk
      name: kv-seeded
      location: eastus
      enablePurgeProtection: true
      keys:
        - {{name: cmk, kty: RSA, keySize: 3072}}
  servicePrincipals:
    - {{appId: a232010e-820c-4083-83bb-3ace5fc29d0b, objectId: 99999999-0000-0000-0000-000000000001,
        displayName: Azure Cosmos DB}}
  roleAssignments:
    - scope: {vault_path("kv-seeded")}
      role: Key Vault Crypto Service Encryption User
      principalId: 99999999-0000-0000-0000-000000000001
astra:
  orgId: org-1234
  registrations:
    - {{product: managed-clusters, provider: azure, region: westus2, keyID: https://kv-seeded.vault.azure.net/keys/cmk}}
  accounts:
    - {{product: serverless, provider: azure, region: eastus, providerIds: [p1, p2, p3]}}
  databases:
    - {{name: orders, cloudProvider: AZURE, region: eastus}}
    - {{name: old, cloudProvider: AWS, region: us-east-1, status: TERMINATED}}
"""


def test_state_persists_across_sessions(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    with Sandbox(directory) as sandbox, client_for(sandbox) as client:
        tenant = sandbox.state["graph"]["tenantId"]
        assert client.put(vault_path("kv-kept"), params=API, json=vault_body(tenant)).status_code == 200
        # Written after the request, not only at exit.
        assert "kv-kept" in json.loads((directory / "state.json").read_text())["arm"]["vaults"]
    with Sandbox(directory) as sandbox, client_for(sandbox) as client:
        again = client.get(vault_path("kv-kept"), params=API)
        assert again.status_code == 200
        assert [call["seq"] for call in sandbox.calls()] == [1, 2]
    assert "kv-kept" in load_state(directory)["arm"]["vaults"]


@pytest.mark.nonconforming("calls Astra without a token, to see the refusal journalled")
def test_calls_record_mutating_flags(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        client.get(vault_path("kv-none"), params=API)
        client.put(vault_path("kv-calls"), params=API, json=vault_body(sandbox.state["graph"]["tenantId"]))
        client.get("/v2/kms")
        client.get("/v2/kms", headers={"Authorization": ""})
    calls = sandbox.calls()
    assert [(c["method"], c["plane"], c["status"], c["mutating"]) for c in calls] == [
        ("GET", "arm", 404, False),
        ("PUT", "arm", 200, True),
        ("GET", "astra", 200, False),
        ("GET", "astra", 401, False),
    ]
    assert calls[1]["path"] == vault_path("kv-calls")  # no query string


def test_state_layout_has_a_section_per_plane(sandbox: Sandbox) -> None:
    state = sandbox.state
    assert state["version"] == 1
    assert {"arm", "graph", "astra"} <= set(state)


def test_world_yaml_seeds_a_fresh_sandbox(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    directory.mkdir()
    (directory / "world.yaml").write_text(WORLD)
    with Sandbox(directory) as sandbox, client_for(sandbox) as client:
        vault = client.get(vault_path("kv-seeded"), params=API).json()
        assert vault["properties"]["tenantId"] == "11111111-2222-3333-4444-555555555555"
        assert vault["properties"]["enablePurgeProtection"] is True
        key = client.get(vault_path("kv-seeded") + "/keys/cmk", params=API).json()
        assert key["properties"]["keySize"] == 3072
        refused = client.put(vault_path("kv-deleted-too"), params=API, json=vault_body("t"))
        assert refused.status_code == 409
        cosmos = client.get("/v1.0/servicePrincipals(appId='a232010e-820c-4083-83bb-3ace5fc29d0b')").json()
        assert cosmos["id"] == "99999999-0000-0000-0000-000000000001"
        assert len(client.get("/v2/kms/provider/azure/region/eastus/accounts").json()) == 3
        assert client.get("/v2/kms/classic/provider/azure/region/westus2").status_code == 200
        assert [db["info"]["name"] for db in client.get("/v2/databases").json()] == ["orders"]
        assert len(client.get("/v2/databases", params={"include": "all"}).json()) == 2
        assert client.get("/v2/databases", params={"provider": "AWS", "include": "all"}).json()[0]["status"] == (
            "TERMINATED"
        )
        collection = vault_path("kv-seeded") + "/providers/Microsoft.Authorization/roleAssignments"
        assert len(client.get(collection, params={"api-version": "2022-04-01"}).json()["value"]) == 1


def test_world_yaml_is_ignored_once_state_exists(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    with Sandbox(directory):
        pass
    (directory / "world.yaml").write_text(WORLD)
    assert load_state(directory)["arm"]["vaults"] == {}


def test_world_yaml_errors_name_every_problem(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    directory.mkdir()
    (directory / "world.yaml").write_text(
        "azure:\n  vaults:\n    - {name: kv, location: eastus, colour: red}\n"
        "astra:\n  registrations:\n    - {product: serverless, provider: oracle, region: x, keyID: k}\n"
    )
    with pytest.raises(WorldError) as raised:
        Sandbox(directory).start()
    message = str(raised.value)
    assert "azure.vaults[0].colour: unknown key" in message
    assert "azure.vaults[0].subscription: required" in message
    with pytest.raises(WorldError):
        load_state_with(
            tmp_path, "azure:\n  vaults:\n    - {subscription: s, resourceGroup: r, name: x, location: l}\n"
        )


def load_state_with(tmp_path: Path, text: str) -> None:
    directory = tmp_path / "other"
    directory.mkdir()
    (directory / "world.yaml").write_text(text)
    load_state(directory)


def test_describe_lists_every_plane(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    directory.mkdir()
    (directory / "world.yaml").write_text(WORLD)
    text = describe(load_state(directory))
    assert "kv-seeded" in text and "purge protection on" in text
    assert "https://kv-seeded.vault.azure.net/keys/cmk" in text
    assert "a232010e-820c-4083-83bb-3ace5fc29d0b -> 99999999-0000-0000-0000-000000000001" in text
    assert "Key Vault Crypto Service Encryption User -> ServicePrincipal" in text
    assert "managed-clusters" in text and "p1, p2, p3" in text
    assert "kv-deleted" in text and "orders" in text


class _Plane:
    """A plane whose reads change the state, saying so or not."""

    def __init__(self, *, says: bool) -> None:
        self.says = says

    def handle(self, request: Request, state: dict[str, Any]) -> Reply:
        state["arm"]["counter"] = state["arm"].get("counter", 0) + 1
        return Reply(200, {}, advanced=self.says)


def _read(dispatcher: Dispatcher, plane: _Plane) -> Reply:
    return dispatcher._handle(plane, Request(method="GET", path="/anything", query={}, headers={}))  # type: ignore[arg-type]


def _saved(directory: Path) -> dict[str, Any]:
    saved: dict[str, Any] = json.loads((directory / "state.json").read_text())
    return saved


def test_a_read_that_moves_the_world_on_is_saved(tmp_path: Path) -> None:
    dispatcher = Dispatcher(StateStore(tmp_path, {"arm": {}}), Issued.random())
    assert _read(dispatcher, _Plane(says=True)).status == 200
    assert _saved(tmp_path)["arm"]["counter"] == 1


def test_reads_are_not_compared_with_the_saved_state(tmp_path: Path) -> None:
    dispatcher = Dispatcher(StateStore(tmp_path, {"arm": {}}), Issued.random())
    dispatcher.verify_reads = False
    assert _read(dispatcher, _Plane(says=False)).status == 200
    assert "counter" not in _saved(tmp_path)["arm"]  # the cost a read no longer pays


def test_a_read_that_changes_the_state_without_saying_so_is_caught_in_the_suite(tmp_path: Path) -> None:
    store = StateStore(tmp_path, {"arm": {}})
    dispatcher = Dispatcher(store, Issued.random())
    assert dispatcher.verify_reads  # tests/conftest.py sets CMKCTL_SANDBOX_VERIFY_READS=1
    reply = _read(dispatcher, _Plane(says=False))
    assert reply.status == 500 and reply.body["error"]["code"] == "UnsavedReadChange"
    assert "counter" not in store.state["arm"]  # rolled back: the state and its file agree


def test_a_journal_line_a_killed_process_left_half_written_is_cut(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as sandbox, client_for(sandbox) as client:
        client.get(vault_path("kv-none"), params=API)
    journal = tmp_path / "calls.jsonl"
    whole = journal.read_text()
    journal.write_text(whole + '{"seq": 2, "method": "PU')  # SIGKILL in the middle of an append
    with Sandbox(tmp_path) as sandbox, client_for(sandbox) as client:
        client.get(vault_path("kv-none"), params=API)
        assert [c["seq"] for c in sandbox.calls()] == [1, 2]
