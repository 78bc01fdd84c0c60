"""A vault that does not say `enableRbacAuthorization` is an access-policy vault (issue 20.4).

The published 2026-05-15 getVault example answers an access-policy vault with `accessPolicies` and
no `enableRbacAuthorization`; every live recording leaves the property out of vaults that never set
it. Served that answer, the provider reads an access-policy vault: no false `true -> false` update
for a manifest that declares access policies. The emulator answers a vault so made the same way, and
export writes its access policies, not role assignments it would ignore.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmkctl_sandbox import Sandbox
from reconciler.engine import expand
from reconciler.engine.diff import choose_action
from reconciler.manifest.loader import load_one
from reconciler.manifest.model import Accounts
from reconciler.plan.model import Action
from reconciler.providers.base import Connection
from reconciler.providers.registry import build_handlers
from reconciler.systems import PLUGINS
from tests.conftest import EXAMPLES, Result, write
from tests.emulated import http_client
from tests.replay import ReplayDispatcher, replaying

EXAMPLES_2026_05_15 = Path(__file__).parent / "contracts" / "examples" / "keyvault" / "2026-05-15"
ZERO = "00000000-0000-0000-0000-000000000000"

EXAMPLE_VAULT_MANIFEST = f"""
apiVersion: cmkctl/v1
kind: KeySet
metadata: {{name: example}}
accounts:
  azure: {{tenantId: {ZERO}, subscriptionId: {ZERO}}}
regions:
  - name: westus
    cloud: azure
    vaults:
      - {{name: sample-vault, resourceGroup: sample-resource-group, purgeProtection: false,
         authorization: accessPolicies, trustedServicesBypass: true}}
"""


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES_2026_05_15 / name).read_text())
    return document


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[tuple[ReplayDispatcher, Connection]]:
    with replaying(tmp_path) as served:
        yield served


def test_the_published_access_policy_vault_reads_as_one_and_plans_no_change(
    replay: tuple[ReplayDispatcher, Connection], tmp_path: Path
) -> None:
    dispatcher, connection = replay
    answer = example("getVault.json")["responses"]["200"]["body"]
    assert "enableRbacAuthorization" not in answer["properties"] and answer["properties"]["accessPolicies"]
    group = answer["id"].rsplit("/", 1)[0]
    dispatcher.answer("GET", group, 200, {"value": [answer]})  # cmkctl reads vaults by their group's list
    key_set, _ = load_one([str(write(tmp_path / "example.yaml", EXAMPLE_VAULT_MANIFEST))], plugins=PLUGINS)
    vault = next(r for r in expand.resources(key_set, {}, PLUGINS) if r.kind == "azure_vault")
    with build_handlers(connection, Accounts(azure_subscription_id=ZERO), PLUGINS) as handlers:
        live = handlers.by_kind["azure_vault"].read(identity=vault.identity)
    assert live is not None
    assert live["enableRbacAuthorization"] is False
    decision = choose_action(PLUGINS.kinds["azure_vault"], vault.attributes, live)
    assert decision.action is Action.NOOP, decision.changes
    assert dispatcher.unanswered == []


def _create(sandbox: Sandbox, name: str, **properties: Any) -> dict[str, Any]:
    """A vault made as the createVault example makes one (its request body, this world's tenant)."""
    body = example("createVault.json")["parameters"]["parameters"]
    tenant = sandbox.state["graph"]["tenantId"]
    policies = [{**p, "tenantId": tenant} for p in body["properties"]["accessPolicies"]]
    body = {**body, "location": "eastus",
            "properties": {**body["properties"], "tenantId": tenant, "accessPolicies": policies, **properties}}
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/by-hand/providers/Microsoft.KeyVault/vaults/{name}"
    with http_client(sandbox) as client:
        # 200 RegisteringDns, as the live recording of a vault create answers (cmkctl_sandbox/README.md).
        assert client.put(path, params={"api-version": "2026-05-15"}, json=body).status_code == 200
        got = client.get(path, params={"api-version": "2026-05-15"})
        listed = client.get(path.rsplit("/", 1)[0], params={"api-version": "2026-05-15"})
    assert [v for v in listed.json()["value"] if v["name"] == name] == [got.json()]
    answered: dict[str, Any] = got.json()["properties"]
    return answered


SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"


def test_the_emulator_answers_a_vault_as_it_was_made(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sandbox") as sandbox:
        without = _create(sandbox, "policy-kv")
        with_rbac = _create(sandbox, "rbac-kv", enableRbacAuthorization=True)
        held = sandbox.state["arm"]["vaults"]
    # As the createVault example answers: access policies, and no word of RBAC.
    assert "enableRbacAuthorization" not in without and without["accessPolicies"]
    assert held["policy-kv"]["resource"]["properties"]["enableRbacAuthorization"] is False
    # A vault made with the property answers it, as live vaults made with it do.
    assert with_rbac["enableRbacAuthorization"] is True


def test_export_writes_the_access_policies_of_a_vault_that_does_not_say(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    directory, exported = tmp_path / "sandbox", tmp_path / "exported.yaml"
    write(directory / "world.yaml", "azure: {tenantId: 11111111-1111-1111-1111-111111111111}\n")  # the example's
    with Sandbox(directory) as sandbox:
        _create(sandbox, "policy-kv")
    result = cmkctl("export", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", directory,
                    "--region", "eastus", "--out", exported)
    assert result.code == 0, result.err
    region = yaml.safe_load(exported.read_text())["regions"][0]
    assert region["vaults"][0]["authorization"] == "accessPolicies"
    assert [p["vault"] for p in region["accessPolicies"]] == ["policy-kv"]
    assert "roleAssignments" not in region
    again = cmkctl("plan", "-f", exported, "--sandbox", directory, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
