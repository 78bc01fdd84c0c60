"""A role assignment PUT again after a kill meets ARM's 409 RoleAssignmentExists (issue 20.6).

ARM answers a PUT of an assignment whose scope, role and principal already hold one 409
`RoleAssignmentExists`, under the same name too (Azure/azure-sdk-for-go#19060,
MicrosoftDocs/azure-docs#67839). cmkctl names its assignments deterministically, so an apply killed
right after the PUT, then run again before ARM's reads return the new assignment (Terraform's azurerm
provider waits "for Role Assignment to finish replicating"), PUTs the same name again: the 409 is
read as the existing assignment, once ARM lists it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cmkctl_sandbox.census import census
from cmkctl_sandbox.halt import HALT_MARKER, HALT_VARIABLE
from cmkctl_sandbox.state import read_calls
from cmkctl_sandbox.world import load_state
from tests.conftest import ROOT, write

PRINCIPAL = "55555555-5555-5555-5555-555555555555"
MANIFEST = f"""
apiVersion: cmkctl/v1
kind: KeySet
metadata: {{name: re-put}}
accounts:
  azure: {{tenantId: 11111111-1111-1111-1111-111111111111, subscriptionId: 22222222-2222-2222-2222-222222222222}}
regions:
  - name: eastus
    cloud: azure
    vaults:
      - {{name: re-put-kv, resourceGroup: cmk, purgeProtection: true, authorization: rbac}}
    roleAssignments:
      - {{role: Key Vault Crypto Service Encryption User, vault: re-put-kv, principal: {{objectId: {PRINCIPAL}}}}}
"""
# A principal that exists already (no replication lag of its own), so that the assignment's name is the
# same in every run.
WORLD = f"""
azure:
  tenantId: 11111111-1111-1111-1111-111111111111
  servicePrincipals: [{{appId: 44444444-4444-4444-4444-444444444444, objectId: {PRINCIPAL}}}]
"""
# ARM's reads return a new assignment only after a minute of the emulator's time.
FAULTS = "replicationLag: {assignments: 60}\n"


def apply(manifest: Path, sandbox: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(manifest), "--sandbox",
                             str(sandbox), "--auto-approve"], env={**os.environ, "CMKCTL_SANDBOX_FAULTS": FAULTS, **env},
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assignment_put(sandbox: Path) -> str:
    """The path of the role-assignment PUT of a clean apply (its name is deterministic)."""
    assert apply(sandbox.parent / "re-put.yaml", sandbox).wait(timeout=120) == 0
    puts = {c["path"] for c in read_calls(sandbox) if c["method"] == "PUT" and "/roleAssignments/" in c["path"]}
    assert len(puts) == 1, puts
    return puts.pop()


def kill_after(sandbox: Path, label: str) -> None:
    process = apply(sandbox.parent / "re-put.yaml", sandbox, **{HALT_VARIABLE: label})
    deadline = time.monotonic() + 120
    try:
        while not (sandbox / HALT_MARKER).exists():
            assert process.poll() is None, "the apply ended before its role-assignment PUT"
            assert time.monotonic() < deadline, "the apply never made its role-assignment PUT"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    (sandbox / HALT_MARKER).unlink()


def test_an_apply_killed_after_the_assignment_put_converges_through_the_409(tmp_path: Path) -> None:
    write(tmp_path / "re-put.yaml", MANIFEST)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for sandbox in (clean, killed):
        write(sandbox / "world.yaml", WORLD)
    path = assignment_put(clean)

    kill_after(killed, f"PUT {path}")
    assert [c["status"] for c in read_calls(killed) if c["path"] == path] == [201]  # made; its reply never left
    seen = len(read_calls(killed))
    rerun = apply(tmp_path / "re-put.yaml", killed)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out + err

    after = read_calls(killed)[seen:]
    # The new run did not see the assignment, PUT the same name again and met the 409, each time until
    # ARM listed the existing assignment, which it then took as made: nothing was made twice.
    again = [c["status"] for c in after if c["path"] == path]
    assert again and set(again) == {409}, again
    listed = [c for c in after if c["path"].endswith("/roleAssignments") and c["method"] == "GET"]
    assert len(listed) == 1 + len(again)  # the plan's list, and one after each 409
    assert census(load_state(killed))["azure_role_assignment"] == 1
    assert "1 changed, 0 failed" in out
