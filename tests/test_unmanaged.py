"""What a manifest drops is reported as unmanaged and left in place, never removed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox import load_state
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"


def test_a_dropped_region_is_reported_and_left_in_place(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "s"
    assert cmkctl("apply", "-f", EXAMPLE, "--sandbox", sandbox, "--auto-approve").code == 0
    text = EXAMPLE.read_text()
    eastus_only = write(tmp_path / "m.yaml", text[: text.index("  - name: westus2")])
    before = len([c for c in read_calls(sandbox) if c["mutating"]])
    result = cmkctl("plan", "-f", eastus_only, "--sandbox", sandbox, "--detailed-exitcode")
    assert result.code == 0, result.out + result.err
    assert "Unmanaged (no longer declared, left in place):" in result.out
    assert ("[westus2] vault acme-astra-westus2 carries cmkctl-set: acme-astra but is no longer declared; "
            "cmkctl leaves it and its keys in place (I-UNMANAGED)") in result.out
    assert ("Astra serverless registration of https://acme-astra-westus2.vault.azure.net/keys/astra-westus2 is no "
            "longer declared") in result.out
    assert cmkctl("apply", "-f", eastus_only, "--sandbox", sandbox, "--auto-approve").code == 0
    assert len([c for c in read_calls(sandbox) if c["mutating"]]) == before
    assert "acme-astra-westus2" in load_state(sandbox)["arm"]["vaults"]


def test_a_dropped_key_is_reported(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "s"
    text = EXAMPLE.read_text()
    spare = "      - name: spare\n        vault: acme-astra-eastus\n"
    with_spare = write(tmp_path / "spare.yaml", text.replace("    keys:\n", "    keys:\n" + spare, 1))
    assert cmkctl("apply", "-f", with_spare, "--sandbox", sandbox, "--auto-approve").code == 0
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "markdown")
    assert result.code == 0
    assert ("**Unmanaged, left in place** (eastus): key spare in vault acme-astra-eastus carries cmkctl-set: "
            "acme-astra but is no longer declared") in result.out


def test_objects_of_other_key_sets_are_not_ours_to_report(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = tmp_path / "s"
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "not-a-real-password")
    assert cmkctl("apply", "-f", EXAMPLES / "mongo-vcore.yaml", "--sandbox", sandbox, "--auto-approve").code == 0
    assert "acme-mongo-eastus" in load_state(sandbox)["arm"]["vaults"]
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
    assert result.code == 0
    assert "I-UNMANAGED" not in result.out
