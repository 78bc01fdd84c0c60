"""A vault name held by a soft-deleted vault: refused at plan (ARM's deleted-vaults list says so),
or, with `recover: true` declared, recovered with createMode: recover. Never purged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox import Sandbox, load_state
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, write
from tests.emulated import http_client

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
VAULT = "azure_vault.eastus.acme-astra-eastus"
WORLD = ('azure:\n  softDeletedVaults: [{name: acme-astra-eastus, location: eastus, '
         'deletionDate: "2026-11-20T10:00:00Z", scheduledPurgeDate: "2027-02-18T10:00:00Z"}]\n')
# The properties of a DeletedVault in the Key Vault specification (Vaults_GetDeleted, Vaults_ListDeleted).
DELETED_VAULT_PROPERTIES = {"vaultId", "location", "deletionDate", "scheduledPurgeDate", "tags",
                            "purgeProtectionEnabled"}


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    write(tmp_path / "sandbox" / "world.yaml", WORLD)
    return tmp_path / "sandbox"


def recovering(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text().replace("      - name: acme-astra-eastus\n",
                                       "      - name: acme-astra-eastus\n        recover: true\n", 1)
    assert "recover: true" in text
    return write(tmp_path / "recover.yaml", text)


def test_a_soft_deleted_name_is_refused_at_plan(cmkctl: Callable[..., Result], sandbox: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert result.code == 3, result.out + result.err
    assert (f"{VAULT}: the name acme-astra-eastus is held by a soft-deleted vault (deleted 2026-11-20T10:00:00Z in "
            "eastus, purge scheduled 2027-02-18T10:00:00Z): declare `recover: true` on the vault") in result.err
    assert "[R-VAULT-SOFT-DELETED]" in result.err
    assert mutating_calls(sandbox) == []
    assert any(c["path"].endswith("/providers/Microsoft.KeyVault/deletedVaults") for c in read_calls(sandbox))


def test_recover_true_recovers_the_vault_and_converges(cmkctl: Callable[..., Result], sandbox: Path,
                                                       tmp_path: Path) -> None:
    manifest = recovering(tmp_path)
    planned = cmkctl("plan", "-f", manifest, "--sandbox", sandbox)
    assert planned.code == 0, planned.err
    assert "recovered with createMode: recover" in planned.out
    apply_ok(cmkctl, manifest, sandbox)  # the sandbox answers 409 to a create without createMode: recover
    state = load_state(sandbox)
    assert state["arm"]["deletedVaults"] == {}
    assert "acme-astra-eastus" in state["arm"]["vaults"]
    before = len(read_calls(sandbox))
    again = cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert not [c for c in read_calls(sandbox)[before:] if "deletedVaults" in c["path"]]
    assert not [c for c in read_calls(sandbox) if "/purge" in c["path"] or c["method"] == "DELETE"]


def test_recover_true_without_a_deleted_vault_creates_it(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    # createMode: recover with nothing to recover is refused by ARM: it is sent only when needed.
    apply_ok(cmkctl, recovering(tmp_path), tmp_path / "sandbox")


def test_recover_must_be_a_boolean(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = recovering(tmp_path).read_text().replace("recover: true", 'recover: "yes"')
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 3
    assert "recover" in result.err


def test_the_sandbox_answers_deleted_vaults_as_the_specification_says(cmkctl: Callable[..., Result],
                                                                       tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, EXAMPLE, sandbox)
    with Sandbox(sandbox) as running:
        client = http_client(running)
        subscription = "/subscriptions/22222222-2222-2222-2222-222222222222"
        vault = f"{subscription}/resourceGroups/cmk-prod/providers/Microsoft.KeyVault/vaults/acme-astra-westus2"
        params = {"api-version": "2026-05-15"}
        assert client.delete(vault, params=params).status_code == 200
        listed = client.get(f"{subscription}/providers/Microsoft.KeyVault/deletedVaults", params=params).json()
        one = client.get(f"{subscription}/providers/Microsoft.KeyVault/locations/westus2/deletedVaults/"
                         "acme-astra-westus2", params=params)
        missing = client.get(f"{subscription}/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/"
                             "acme-astra-westus2", params=params)
    assert [v["name"] for v in listed["value"]] == ["acme-astra-westus2"]
    assert one.status_code == 200 and one.json() == listed["value"][0]
    assert one.json()["type"] == "Microsoft.KeyVault/deletedVaults"
    assert set(one.json()["properties"]) == DELETED_VAULT_PROPERTIES
    assert one.json()["properties"]["vaultId"] == vault
    assert missing.status_code == 404
