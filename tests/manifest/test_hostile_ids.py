"""IDs and names that reach request paths are held to the service's grammar at validate (issue 21, point 6).

A VNet named `..` moved the Network Contributor grant to another scope, `v#frag` turned the
assignment's PUT into a write on the VNet, and a lock blob `../victim-container/payroll.db` leased a
blob in a container the manifest never named. Each is refused at validate, with its file and line,
before any credential is read or any request made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result, mutating_calls, write

CASSANDRA = (EXAMPLES / "cassandra-managed-instance.yaml").read_text("utf-8")
ASTRA = (EXAMPLES / "astra-serverless-azure.yaml").read_text("utf-8")
MONGO = (EXAMPLES / "mongo-vcore.yaml").read_text("utf-8")


def refused(cmkctl: Callable[..., Result], manifest: Path, field: str, expected: str) -> Result:
    """validate exits 3 naming FILE:LINE, the field and what was expected; so does plan, touching nothing."""
    lines = manifest.read_text().splitlines()
    result = cmkctl("validate", manifest)
    assert result.code == 3, result
    assert "Traceback" not in result.err and expected in result.err, result.err
    located = [line for line in result.err.splitlines() if f"{field}:" in line]
    assert located, result.err
    for line in located:
        number = int(line.strip().split(":", 2)[1])
        assert line.strip().startswith(f"{manifest}:{number}:")
        assert field.rsplit(".", 1)[-1].split("[")[0] in lines[number - 1], (line, lines[number - 1])
    sandbox = manifest.parent / "sandbox"
    planned = cmkctl("plan", "-f", manifest, "--sandbox", sandbox)
    assert planned.code == 3 and "Plan:" not in planned.out
    assert mutating_calls(sandbox) == []
    return result


@pytest.mark.parametrize("vnet", ["..", "%2F..", "v?x", "v#frag", ".", "-vnet", "vnet.", "v/../w"])
def test_a_subnet_id_with_a_hostile_vnet_name_is_refused(vnet: str, cmkctl: Callable[..., Result],
                                                          tmp_path: Path) -> None:
    text = CASSANDRA.replace("virtualNetworks/cassandra-vnet/", f"virtualNetworks/{vnet}/")
    manifest = write(tmp_path / "m.yaml", text)
    result = refused(cmkctl, manifest, "delegatedSubnetId", "does not match a subnet's resource ID")
    assert "delegatedManagementSubnetId" in result.err and "2 problems" in result.err


@pytest.mark.parametrize(("subnet_id", "why"), [
    ("/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s", "guid"),
    ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/../providers/Microsoft.Network/"
     "virtualNetworks/vnet/subnets/s", "resource group .."),
    ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg/providers/Microsoft.Network/"
     "virtualNetworks/vnet/subnets/..", "subnet .."),
    ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg/providers/Microsoft.Network/"
     "virtualNetworks/vnet/subnets/s#x", "subnet #"),
    ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg/providers/Microsoft.Network/"
     "virtualNetworks/vnet/subnets/s/extra", "a segment more"),
])
def test_every_segment_of_a_subnet_id_is_held_to_its_grammar(subnet_id: str, why: str,
                                                              cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = CASSANDRA.replace(
        "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/cassandra-prod/providers/"
        "Microsoft.Network/virtualNetworks/cassandra-vnet/subnets/dc1", subnet_id)
    refused(cmkctl, write(tmp_path / "m.yaml", text), "delegatedSubnetId", "does not match a subnet's resource ID")


@pytest.mark.parametrize("group", ["..", ".", "rg.", "rg/x", "rg?x", "rg#x", "a" * 91])
@pytest.mark.parametrize("where", ["vault", "cassandra", "mongo"])
def test_a_hostile_resource_group_is_refused(group: str, where: str, cmkctl: Callable[..., Result],
                                             tmp_path: Path) -> None:
    text = {"vault": ASTRA.replace("resourceGroup: cmk-prod", f"resourceGroup: '{group}'", 1),
            "cassandra": CASSANDRA.replace("resourceGroup: cassandra-prod\n", f"resourceGroup: '{group}'\n", 1),
            "mongo": MONGO.replace("resourceGroup: data-prod", f"resourceGroup: '{group}'", 1)}[where]
    assert f"resourceGroup: '{group}'" in text
    refused(cmkctl, write(tmp_path / "m.yaml", text), "resourceGroup", "does not match a resource group's name")


@pytest.mark.parametrize("scope", [
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/../providers/Microsoft.KeyVault/vaults/"
    "acme-astra-eastus",
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/cmk-prod/providers/Microsoft.KeyVault/vaults/"
    "acme-astra-eastus/keys/astra-eastus#x",
    "/subscriptions/x?y/resourceGroups/cmk-prod/providers/Microsoft.KeyVault/vaults/acme-astra-eastus",
])
def test_a_hostile_role_assignment_scope_is_refused(scope: str, cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = ASTRA.replace("        vault: acme-astra-eastus\n        principal", f"        scope: '{scope}'\n        principal", 1)
    assert scope in text
    refused(cmkctl, write(tmp_path / "m.yaml", text), "scope", "does not match an ARM resource ID")


@pytest.mark.parametrize("blob", ["../victim-container/payroll.db", "ci/../../victim/payroll.db", "./acme.lock",
                                  "/cmkctl/acme.lock", "ci//acme.lock", "ci/acme.lock/", "acme.lock?comp=lease",
                                  "acme#x", "ci\\\\..\\\\acme", "acme.", "x" * 1025])
def test_a_lock_blob_outside_its_container_is_refused(blob: str, cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = ASTRA.replace("accounts:", f"lock:\n  azureBlob: {{account: acmelocks, container: cmkctl, blob: \"{blob}\"}}\n"
                                      "accounts:", 1)
    refused(cmkctl, write(tmp_path / "m.yaml", text), "lock.azureBlob.blob", "does not match a blob's name")


@pytest.mark.parametrize("container", ["a--b", "-ab", "ab-", "AB", "ab", "a" * 64, "a/b"])
def test_a_lock_container_outside_the_grammar_is_refused(container: str, cmkctl: Callable[..., Result],
                                                         tmp_path: Path) -> None:
    text = ASTRA.replace("accounts:", f"lock:\n  azureBlob: {{account: acmelocks, container: '{container}'}}\n"
                                      "accounts:", 1)
    refused(cmkctl, write(tmp_path / "m.yaml", text), "lock.azureBlob.container", "does not match a container's name")


def test_names_the_services_accept_still_validate(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = CASSANDRA.replace("resourceGroup: cassandra-prod\n", "resourceGroup: 'Cassandra_(Prod).1'\n", 1)
    text = text.replace("virtualNetworks/cassandra-vnet/subnets/dc1", "virtualNetworks/Vnet.Prod_/subnets/a")
    text = text.replace("resourceGroups/cassandra-prod/providers/Microsoft.Network/virtualNetworks/cassandra-vnet/"
                        "subnets/management", "resourcegroups/cassandra-prod/providers/microsoft.network/"
                        "virtualnetworks/cassandra-vnet/subnets/mgmt_")
    text = text.replace("accounts:", "lock:\n  azureBlob: {account: acmelocks, container: cmk-locks-1, "
                                     "blob: ci/prod/acme.v2.lock}\naccounts:", 1)
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err


def test_a_lock_blob_that_would_leave_its_container_is_refused_by_the_lock_itself() -> None:
    """The last line: a name that reached the lock by another way than the manifest."""
    from reconciler.core.errors import ProviderError
    from reconciler.providers.azure_blob_lock import BlobLeaseLock

    for blob in ("../victim-container/payroll.db", "a/./b", "/abs", "a//b"):
        with pytest.raises(ProviderError, match="cannot be one segment"):
            BlobLeaseLock("acmelocks", "cmkctl", blob, "acme")
