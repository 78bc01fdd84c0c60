"""One key set across all five systems and both clouds keeps converging: plan, apply, empty plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result

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
