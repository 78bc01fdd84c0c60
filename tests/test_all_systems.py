"""One key set across all five systems and both clouds keeps converging: plan, apply, empty plan; with the
clouds' lags (the emulator's default world), and failing in one line per step when a grant never propagates."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import load_state, realism
from cmkctl_sandbox.state import read_calls
from reconciler.core.retry import DEFAULT_BUDGETS
from tests.conftest import EXAMPLES, Result, write

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")


def test_all_systems_converge(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    first = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    assert first.code == 2, first.err
    for kind in ("azure_vault.", "aws_kms_key.", "astra_registration.", "cassandra_data_center.",
                 "mongo_cluster.", "confluent_cluster.", "confluent_byok_key."):
        assert kind in first.out, kind
    applied = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert ", 0 failed, 0 skipped." in applied.out
    mutations = sum(1 for c in read_calls(sandbox) if c["mutating"])
    after = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    again = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    assert again.code == 0 and "No changes." in again.out
    assert sum(1 for c in read_calls(sandbox) if c["mutating"]) == mutations
    everything = first.out + applied.out + after.out + "".join(p.read_text(errors="replace")
                                                              for p in sandbox.rglob("*") if p.is_file())
    assert "canary-cassandra-7d1f" not in everything and "canary-mongo-93ab" not in everything


def test_sandbox_show_lists_every_system(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    assert cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve").code == 0
    shown = cmkctl("sandbox", "show", sandbox).out
    for expected in ("acme-cass-eus: ", "keys [get, unwrapKey, wrapKey]", "acme-mongo-cmk-eus  (eastus)",
                     "data center dc-eastus  3 nodes  disk key https://acme-cass-eus.vault.azure.net/keys/cass-eus/",
                     "acme-orders  (eastus)  customer-managed key",
                     "key https://acme-mongo-eus.vault.azure.net/keys/mongo-eus  identity acme-mongo-cmk-eus",
                     "https://acme-kafka-eus.vault.azure.net/keys/kafka-eus  application", "orders  (eastus)  byok cck-",
                     "AWS KMS"):
        assert expected in shown, expected


def test_proxy_settings_in_the_environment_never_see_sandbox_traffic(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that refuses every connection: any plane that used it would fail to read.
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", tmp_path / "sandbox", "--detailed-exitcode")
    assert result.code == 2, result.err
    assert "Plan: 45 to create" in result.out


def refused_key_access(call: dict[str, Any]) -> bool:
    """A consumer refused its key while the grant propagates: ARM's 403, or an operation that ended Failed."""
    body = call.get("responseBody")
    if not isinstance(body, dict):
        return False
    error = body.get("error") if call["status"] == 403 else None
    properties = body.get("properties")
    failed = body.get("status") == "Failed" or (
        isinstance(properties, dict) and properties.get("provisioningState") == "Failed")
    return failed or (isinstance(error, dict) and error.get("code") == "KeyVaultAccessForbidden")


def byok_phases(calls: list[dict[str, Any]]) -> list[str]:
    return [c["responseBody"]["validation"]["phase"] for c in calls if c["path"].startswith("/byok/v1/keys/cck-")]


def test_all_systems_converge_with_the_clouds_lags(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    applied = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "Apply complete: 45 changed, 0 failed, 0 skipped." in applied.out
    state, calls = load_state(sandbox), read_calls(sandbox)
    assert state["realism"] == dict(realism.DEFAULTS)  # nothing configured: the default world
    # The lags happened: each new principal hidden from RBAC for a while (whether a role assignment's PUT
    # came soon enough to be refused depends on how far the other steps' waits had moved the shared clock
    # on; tests/test_identity_lag.py shows the refusal waited out), new grants refused to their consumers, ...
    hidden = state["graph"]["replication"]["visibleAt"]
    assert len(hidden) >= 3  # Confluent's service principal, a user-assigned identity, Cassandra's own identity
    assert len([c for c in calls if refused_key_access(c)]) >= 2  # Mongo and Cassandra, at least once each
    # ... and Confluent validated its key INVALID until the grants reached Key Vault, then VALID: the
    # cluster was asked for once, after that.
    phases = byok_phases(calls)
    assert "INVALID" in phases and phases[-1] == "VALID", phases
    assert phases.index("INVALID") < len(phases) - 1
    posts = [c for c in calls if c["path"] == "/cmk/v2/clusters" and c["method"] == "POST"]
    assert [c["status"] for c in posts] == [202]
    assert posts[0]["seq"] > max(c["seq"] for c in calls if c["path"].startswith("/byok/v1/keys/cck-"))
    # Waited out on the emulator's clock: at least one grant's propagation passed in its time.
    assert state["clock"]["offsetSeconds"] >= realism.DEFAULTS["grantPropagation"]
    assert ": waiting for the grants on vault acme-kafka-eus to let Confluent use BYOK key cck-" in applied.out

    after = cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    assert "No changes." in after.out


# Each step that uses a key a grant gives, and the vault whose grant it waits for.
GRANT_USERS = {
    "mongo_cluster.eastus.acme-orders": "the grant on vault acme-mongo-eus to reach Key Vault",
    "cassandra_data_center.eastus.acme-cassandra/dc-eastus": "the grant on vault acme-cass-eus to reach Key Vault",
    "confluent_cluster.eastus.orders": "the grants on vault acme-kafka-eus to let Confluent use BYOK key cck-",
}


def test_a_grant_that_never_propagates_fails_each_user_after_its_budget_in_one_line(
        cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "grantLag: {seconds: 1000000000}\n")  # never, in the emulator's time
    started = time.monotonic()
    applied = cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve")
    wall = time.monotonic() - started
    assert applied.code == 1, applied.out + applied.err
    assert "Apply failed: 42 changed, 3 failed, 0 skipped." in applied.out
    failed = [line.strip() for line in applied.err.splitlines() if line.strip().startswith("failed ")]
    assert len(failed) == len(GRANT_USERS), applied.err
    for address, awaited in GRANT_USERS.items():
        (line,) = [line for line in failed if line.startswith(f"failed  {address}: ")]
        assert re.search(f"creating {re.escape(address)}: gave up waiting for {re.escape(awaited)}.* after "
                         r"10m(\d+s)? \(the grant budget is 10m; --wait grant=DURATION changes it\)\. Last answer: ",
                         line), line
    (confluent,) = [line for line in failed if "confluent_cluster." in line]
    assert "INVALID: Access to key denied." in confluent  # Confluent's own message, the last answer
    # Ten minutes of waiting in the emulator's time, not in the wall clock's.
    assert wall < 60
    offset = load_state(sandbox)["clock"]["offsetSeconds"]
    assert offset + wall >= DEFAULT_BUDGETS.grant
