"""Key Vault's data plane refuses a plan's read of a rotation policy (issue 20.3).

A vault whose firewall denies the caller answers 403 ForbiddenByFirewall; an RBAC vault answers a
caller without a data-plane role 403 ForbiddenByRbac. ARM's read of a key does not carry its rotation
policy, so the plan shows the policy as unknown, plans no change to it, and warns (W-UNREADABLE) with
what would let cmkctl read it; an apply that must write a policy and is refused says what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import EXAMPLES, Result, write

EXAMPLE = EXAMPLES / "key-rotation.yaml"
KEY = "azure_key.eastus.acme-rotation-eastus/astra-eastus"


def manifest(tmp_path: Path, vault: str = "", rotate_after: str = "P1Y") -> Path:
    text = EXAMPLE.read_text().replace("        resourceGroup: cmk-prod\n    keys:",
                                       f"        resourceGroup: cmk-prod\n{vault}    keys:")
    return write(tmp_path / "rotation.yaml", text.replace("rotateAfter: P1Y", f"rotateAfter: {rotate_after}"))


def warnings(result: Result) -> list[str]:
    return [line for line in (result.out + result.err).splitlines() if "W-UNREADABLE" in line]


def test_a_vault_whose_firewall_denies_the_caller_leaves_the_policy_unknown_with_a_warning(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    denied, sandbox = manifest(tmp_path, "        publicNetwork: Deny\n"), tmp_path / "sandbox"
    applied = cmkctl("apply", "-f", denied, "--sandbox", sandbox, "--auto-approve")  # ARM's create carries it
    assert applied.code == 0, applied.out + applied.err
    plan = cmkctl("plan", "-f", denied, "--sandbox", sandbox, "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err  # no false change
    [line] = warnings(plan)
    assert f"{KEY}: rotationPolicy is unknown" in line
    assert "ForbiddenByFirewall" in line and "network rules" in line and "acme-rotation-eastus" in line

    # Inside the vault's rules, the same plan reads the policy and has nothing to say.
    inside = tmp_path / "inside"
    write(inside / "world.yaml", "azure: {caller: {inside: true}}\n")
    assert cmkctl("apply", "-f", denied, "--sandbox", inside, "--auto-approve").code == 0
    read = cmkctl("plan", "-f", denied, "--sandbox", inside, "--detailed-exitcode")
    assert read.code == 0 and warnings(read) == [], read.out + read.err


def test_a_caller_without_a_data_plane_role_leaves_the_policy_unknown_and_is_told_the_role(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "azure: {caller: {roles: []}}\n")  # no role above the vault
    rbac = manifest(tmp_path)
    assert cmkctl("apply", "-f", rbac, "--sandbox", sandbox, "--auto-approve").code == 0
    plan = cmkctl("plan", "-f", rbac, "--sandbox", sandbox, "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    [line] = warnings(plan)
    assert "ForbiddenByRbac" in line and "Key Vault Reader" in line
    assert "Microsoft.KeyVault/vaults/keyrotationpolicies/read" in line


def test_a_reader_sees_a_changed_policy_but_its_apply_is_told_it_needs_the_officer_role(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "azure: {caller: {roles: [Key Vault Reader]}}\n")
    assert cmkctl("apply", "-f", manifest(tmp_path), "--sandbox", sandbox, "--auto-approve").code == 0
    changed = manifest(tmp_path, rotate_after="P180D")
    plan = cmkctl("plan", "-f", changed, "--sandbox", sandbox, "--detailed-exitcode")
    assert plan.code == 2 and warnings(plan) == [], plan.out + plan.err  # read, and different
    applied = cmkctl("apply", "-f", changed, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 1
    assert "ForbiddenByRbac" in applied.out + applied.err
    assert "keyrotationpolicies/write" in applied.out + applied.err
    assert "Key Vault Crypto Officer" in applied.out + applied.err
