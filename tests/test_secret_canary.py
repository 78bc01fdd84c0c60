"""One canary per credential: the ones the emulator issues and a run sends, the real ones an operator
has in the environment (which a sandbox run never reads, let alone sends), and the secrets a run
reads; none may appear in anything cmkctl writes.

Swept: stdout and stderr of plan, apply (with faults, --debug to stderr and to a file, --audit-log),
a failing apply (the services' error texts), a bug's crash log, saved plan files, and every file in
the sandbox's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, write
from tests.emulated import issue_canaries

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
# The environment of an operator with real credentials, and the secrets a run reads from it.
CANARIES = {
    "ASTRA_DB_APPLICATION_TOKEN": "AstraCS:canary-astra-4f1e9b",
    "CONFLUENT_CLOUD_API_KEY": "canary-confluent-key-77a1",
    "CONFLUENT_CLOUD_API_SECRET": "canary-confluent-secret-0b3c",
    "AWS_ACCESS_KEY_ID": "AKIACANARYREAL000000",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-5d2e",
    "AZURE_CLIENT_SECRET": "canary-azure-secret-9c4f",
    "CASSANDRA_ADMIN_PASSWORD": "canary-cassandra-pw-1a2b",
    "MONGO_ADMIN_PASSWORD": "canary-mongo-pw-3c4d",
    "CMKCTL_PLAN_SIGNING_KEY": "canary-plan-signing-key-6e7f",
}
# What the emulator issues, and the run sends: canaries too.
ISSUED = Issued(astra_token="AstraCS:canary-issued-astra-8a2c", confluent_api_key="CANARYISSUEDKEY71",
                confluent_api_secret="canary-issued-confluent-5e0d", aws_access_key_id="AKIACANARYISSUED0000",
                aws_secret_access_key="canary-issued-aws-3b9f", azure_signing_key="canary-issued-azure-6d4e")


def test_no_credential_appears_in_anything_cmkctl_writes(cmkctl: Callable[..., Result], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    sent_tokens = issue_canaries(monkeypatch, ISSUED)
    sandbox = tmp_path / "sandbox"
    write(sandbox / "faults.yaml", "seed: 3\nall: {transient: 0.2, timeout: {rate: 0.04, ms: 0}}\n")
    results = [
        cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--out", tmp_path / "saved.plan.json", "--debug"),
        cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve", "--debug",
               "--audit-log", tmp_path / "audit.jsonl"),
        cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--format", "markdown",
               "--debug-file", tmp_path / "debug.log"),
    ]
    assert results[1].code == 0, results[1].err[-3000:]
    assert "***" in results[1].err  # the debug log ran, and redacted
    # ... by name, not by substring, and with the query the services were sent.
    assert 'enableRbacAuthorization\\":true' in results[1].err  # inside the logged body's JSON text
    assert '"query":"api-version=' in results[1].err and '"query":"include=nonterminated&limit=100"' in results[1].err
    assert "provider=AZURE" not in results[1].err  # no list depends on a filter's spelling
    assert '"signature": "hmac-sha256:' in (tmp_path / "saved.plan.json").read_text()  # the signing key was used

    # Services that refuse everything: their messages reach the user, the credentials do not.
    broken = tmp_path / "broken"
    write(broken / "faults.yaml", "astra: {serverError: 1.0}\nconfluent: {throttle: 1.0}\n")
    results.append(cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", broken, "--auto-approve", "--debug"))
    assert results[-1].code == 1 and "injected by the sandbox" in results[-1].err

    # A bug: one line and a crash log, which is swept too.
    monkeypatch.setattr("reconciler.engine.schedule.each_alone", _explode)  # apply's walk only
    results.append(cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", tmp_path / "crash", "--auto-approve"))
    assert "hit a bug" in results[-1].err
    crash_logs = list(tmp_path.glob("cmkctl-crash-*.log"))
    assert crash_logs

    written = [r.out + r.err for r in results] + [p.read_text("utf-8", errors="replace")
                                                   for p in tmp_path.rglob("*") if p.is_file()]
    assert (tmp_path / "audit.jsonl").read_text().count("\n") > 40
    # The issued credentials were the ones sent: every plane took them (no 401 but Key Vault's challenge,
    # which azure-keyvault-keys draws with a first request that carries no token).
    refused = [c for c in read_calls(sandbox) if c["status"] == 401 and c["plane"] != "keyvault"]
    assert sent_tokens and refused == []
    secrets = {**CANARIES, **{f"issued {name}": value for name, value in ISSUED.to_json().items()},
               **{f"Azure token {n}": token for n, token in enumerate(sent_tokens)}}
    for name, value in secrets.items():
        leaks = [text[max(0, text.find(value) - 200):text.find(value) + 50] for text in written if value in text]
        assert not leaks, f"{name} leaked: {leaks[:1]}"


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug in the walk")
