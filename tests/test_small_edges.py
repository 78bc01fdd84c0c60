"""Small things a new user trips over in the first hour: each message says a thing once, and commands agree."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result, write


def test_an_error_that_already_names_its_context_is_not_prefixed_again() -> None:
    from reconciler.core.errors import in_context

    assert in_context("reading x", ValueError("reading x: gave up")) == "reading x: gave up"
    assert in_context("reading x", ValueError("HTTP 404")) == "reading x: HTTP 404"


def test_a_read_that_gives_up_says_so_once_with_the_readmes_bound(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    # The waits are on the emulator's clock: five minutes of backoff pass in no time.
    sandbox = tmp_path / "sb"
    write(sandbox / "faults.yaml", "astra: {serverError: 1.0}\n")
    result = cmkctl("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", sandbox)
    assert result.code == 1, result.out + result.err
    # While it waited, the plan said what for and how long, on stderr: "...: 10s of up to 5m".
    assert "astra_provider_accounts.eastus.serverless: waiting for the Astra DevOps API to answer: " in result.err
    line = next(x for x in result.err.splitlines() if "gave up" in x and "astra_provider_accounts.eastus" in x)
    assert line.count("reading astra_provider_accounts.eastus.serverless") == 1, line
    # README, "Retries and waits": transient failures are waited out for 5 minutes, then one line says so (the
    # emulator's clock is shared: another read's waits may have moved it a few seconds past the budget).
    assert re.search(r"gave up waiting for the Astra DevOps API to answer after 5m(\d+s)? \(the transient budget "
                     r"is 5m; --wait transient=DURATION changes it\)", line), line
    assert "HTTP 500:" in line or "HTTP 503:" in line, line  # Astra's error ID repeated the status: "HTTP 503 503"


@pytest.mark.parametrize("text", ["", "# nothing declared yet\n", "---\n"])
def test_validate_and_plan_agree_on_a_file_that_declares_nothing(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                 text: str) -> None:
    path = write(tmp_path / "empty.yaml", text)
    validated = cmkctl("validate", path)
    planned = cmkctl("plan", "-f", path, "--sandbox", tmp_path / "sb")
    for result in (validated, planned):
        assert result.code == 3, result.out + result.err
        assert f"{path}: holds no key set (the file is empty or only comments) [E-EMPTY]" in result.err
    assert "valid" not in validated.out


def test_too_many_key_sets_is_said_of_the_folder_given_not_of_one_file_in_it(cmkctl: Callable[..., Result],
                                                                            tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLES, "--sandbox", tmp_path / "sb")
    assert result.code == 3
    (line,) = [x for x in result.err.splitlines() if "E-KEYSETS" in x]
    assert line.startswith(f"  {EXAMPLES}: plan and apply take exactly one key set; found {len(list(EXAMPLES.glob('*.yaml')))}"), line
    assert "acme-astra in astra-serverless-azure.yaml" in line and "acme-mongo in mongo-vcore.yaml" in line


def test_sandbox_show_of_a_folder_holding_no_sandbox_is_an_error(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cmkctl("sandbox", "show", tmp_path / "empty")
    assert result.code == 1 and result.out == ""
    assert "holds no sandbox (no state.json, no world.yaml)" in result.err
    assert list((tmp_path / "empty").iterdir()) == []
    write(tmp_path / "seeded" / "world.yaml", "{}\n")  # seeded, never run: that is a sandbox
    assert cmkctl("sandbox", "show", tmp_path / "seeded").code == 0


def test_one_object_is_one_object(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", EXAMPLES / "astra-serverless-azure.yaml", "--sandbox", tmp_path / "sb",
                    "--target", "astra_provider_accounts.eastus.serverless")
    assert result.out.startswith("Key set acme-astra: 1 object.\n"), result.out


def test_every_system_shows_a_password_variable_the_same_way(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    shown = {}
    for example, attribute in (("cassandra-managed-instance.yaml", "initialAdminPasswordFrom"),
                               ("mongo-vcore.yaml", "administratorPassword")):
        plan = json.loads(cmkctl("plan", "-f", EXAMPLES / example, "--sandbox", tmp_path / example,
                                 "--format", "json").out)
        (value,) = [s["attributes"][attribute] for s in plan["steps"] if attribute in s["attributes"]]
        shown[attribute] = value
    assert shown == {"initialAdminPasswordFrom": {"env": "CASSANDRA_ADMIN_PASSWORD", "sensitive": True},
                     "administratorPassword": {"env": "MONGO_ADMIN_PASSWORD", "sensitive": True}}
