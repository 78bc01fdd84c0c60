"""New identities are invisible to Azure RBAC for a while, in the emulator's time (issue 20.7).

A role assignment for a user-assigned identity made moments ago is refused 400 `PrincipalNotFound`
until the directory has replicated it (Azure/avdaccelerator#99, Azure/azure-cli#8530); cmkctl waits
that out within its `principal` budget, on the emulator's clock (no real waiting), and a principal
that never appears within the budget fails with one line naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cmkctl_sandbox.state import read_calls
from cmkctl_sandbox.world import load_state
from tests.conftest import Result, write

MANIFEST = """
apiVersion: cmkctl/v1
kind: KeySet
metadata: {name: lagging}
accounts:
  azure: {tenantId: 11111111-1111-1111-1111-111111111111, subscriptionId: 22222222-2222-2222-2222-222222222222}
regions:
  - name: eastus
    cloud: azure
    identities:
      - {name: orders-cmk, resourceGroup: cmk}
    vaults:
      - {name: lagging-kv, resourceGroup: cmk, purgeProtection: true, authorization: rbac}
    roleAssignments:
      - {role: Key Vault Crypto Service Encryption User, vault: lagging-kv, principal: {identity: orders-cmk}}
"""


def world(tmp_path: Path, seconds: int) -> tuple[Path, Path]:
    manifest, sandbox = write(tmp_path / "lagging.yaml", MANIFEST), tmp_path / "sandbox"
    write(sandbox / "world.yaml", f"azure:\n  tenantId: 11111111-1111-1111-1111-111111111111\n"
                                  f"  replicationLag: {{seconds: {seconds}}}\n")
    return manifest, sandbox


def assignment_puts(sandbox: Path) -> list[int]:
    return [c["status"] for c in read_calls(sandbox) if c["method"] == "PUT" and "/roleAssignments/" in c["path"]]


def test_an_apply_waits_out_a_new_identitys_replication(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    manifest, sandbox = world(tmp_path, 300)
    result = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    statuses = assignment_puts(sandbox)
    assert statuses[-1] == 201 and set(statuses[:-1]) == {400} and len(statuses) >= 3, statuses
    principal = next(iter(load_state(sandbox)["arm"]["userAssignedIdentities"].values()))["properties"]["principalId"]
    assert f"waiting for principal {principal} to reach Azure RBAC" in result.out + result.err
    # Five minutes of the emulator's time went by, waited on its clock.
    assert load_state(sandbox)["clock"]["offsetSeconds"] >= 300
    assert cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_an_identity_rbac_never_sees_within_the_budget_fails_with_one_line(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    manifest, sandbox = world(tmp_path, 3600)
    result = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve", "--wait", "principal=2m")
    assert result.code == 1
    principal = next(iter(load_state(sandbox)["arm"]["userAssignedIdentities"].values()))["properties"]["principalId"]
    gave_up = [line for line in (result.out + result.err).splitlines() if "gave up waiting" in line]
    assert len(gave_up) == 1, result.out + result.err
    assert f"gave up waiting for principal {principal} to reach Azure RBAC after 2m" in gave_up[0]
    assert "--wait principal=DURATION" in gave_up[0] and "PrincipalNotFound" in gave_up[0]
    assert set(assignment_puts(sandbox)) == {400}
