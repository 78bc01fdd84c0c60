"""A path the user typed that cannot be used is a usage error (exit 1, what is wrong with it), never a bug."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.core.errors import CmkError
from tests.conftest import EXAMPLES, Result, write

MANIFEST = EXAMPLES / "astra-serverless-azure.yaml"
ACCOUNTS = """apiVersion: cmkctl/v1
kind: KeySet
metadata: {name: acme-astra}
accounts:
  azure: {tenantId: 11111111-1111-1111-1111-111111111111, subscriptionId: 22222222-2222-2222-2222-222222222222}
regions:
  - {name: eastus, cloud: azure, vaults: [{name: acme-astra-eastus, resourceGroup: cmk-prod}]}
"""


def refused(result: Result, *expected: str) -> None:
    assert result.code == 1, (result.out, result.err)
    assert "hit a bug" not in result.err and "Traceback" not in result.err, result.err
    for text in expected:
        assert text in result.err, result.err


def test_plan_out_into_a_missing_folder(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "missing" / "dir" / "plan.json"
    result = cmkctl("plan", "-f", MANIFEST, "--sandbox", tmp_path / "sb", "--out", out)
    refused(result, "--out", f"the folder {out.parent} does not exist")
    assert not (tmp_path / "sb" / "calls.jsonl").exists()  # refused before anything was read


def test_plan_out_that_is_a_folder(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    refused(cmkctl("plan", "-f", MANIFEST, "--sandbox", tmp_path / "sb", "--out", tmp_path), f"{tmp_path} is a folder")


@pytest.mark.parametrize("command", [("plan", "-f", str(MANIFEST), "--sandbox"), ("sandbox", "serve")])
def test_a_sandbox_folder_that_cannot_be_made(cmkctl: Callable[..., Result], tmp_path: Path,
                                              command: tuple[str, ...]) -> None:
    blocker = write(tmp_path / "a-file", "")
    refused(cmkctl(*command, blocker / "sb"), f"cannot create the folder {blocker / 'sb'}")
    refused(cmkctl(*command, blocker), f"{blocker} is a file, not a folder")


def test_export_out_into_a_missing_folder(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "missing" / "eastus.yaml"
    result = cmkctl("export", "-f", write(tmp_path / "accounts.yaml", ACCOUNTS), "--region", "eastus",
                    "--sandbox", tmp_path / "sb", "--out", out)
    refused(result, "--out", f"the folder {out.parent} does not exist")


def test_debug_file_and_audit_log(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    blocker = write(tmp_path / "a-file", "")
    refused(cmkctl("plan", "-f", MANIFEST, "--sandbox", tmp_path / "sb", "--debug-file", tmp_path / "no" / "d.log"),
            "--debug-file")
    refused(cmkctl("apply", "-f", MANIFEST, "--sandbox", tmp_path / "sb", "--auto-approve",
                   "--audit-log", blocker / "audit.jsonl"), "--audit-log", f"{blocker} is a file, not a folder")


def test_a_write_that_fails_after_the_command_line_was_read_is_an_error_not_a_bug(tmp_path: Path) -> None:
    from reconciler.cli.common import write_atomically

    with pytest.raises(CmkError, match=r"cannot write .*plan\.json: No such file or directory"):
        write_atomically(tmp_path / "gone" / "plan.json", "{}")
