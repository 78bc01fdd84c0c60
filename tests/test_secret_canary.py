"""One canary per credential cmkctl reads; none may appear in anything cmkctl writes.

Swept: stdout and stderr of plan, apply (with faults, --debug to stderr and to a file, --audit-log),
a failing apply (the services' error texts), a bug's crash log, saved plan files, and every file in
the sandbox's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result, write

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
CANARIES = {
    "ASTRA_DB_APPLICATION_TOKEN": "AstraCS:canary-astra-4f1e9b",
    "CONFLUENT_CLOUD_API_KEY": "canary-confluent-key-77a1",
    "CONFLUENT_CLOUD_API_SECRET": "canary-confluent-secret-0b3c",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-5d2e",
    "CMKCTL_SANDBOX_AZURE_TOKEN": "canary-azure-token-9c4f",
    "CASSANDRA_ADMIN_PASSWORD": "canary-cassandra-pw-1a2b",
    "MONGO_ADMIN_PASSWORD": "canary-mongo-pw-3c4d",
    "CMKCTL_PLAN_SIGNING_KEY": "canary-plan-signing-key-6e7f",
}


def test_no_credential_appears_in_anything_cmkctl_writes(cmkctl: Callable[..., Result], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("reconciler.core.retry.sleep", lambda seconds: None)
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
    monkeypatch.setattr("reconciler.engine.graph.walk", _explode)
    results.append(cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", tmp_path / "crash", "--auto-approve"))
    assert "hit a bug" in results[-1].err
    crash_logs = list(tmp_path.glob("cmkctl-crash-*.log"))
    assert crash_logs

    written = [r.out + r.err for r in results] + [p.read_text("utf-8", errors="replace")
                                                   for p in tmp_path.rglob("*") if p.is_file()]
    assert (tmp_path / "audit.jsonl").read_text().count("\n") > 40
    for name, value in CANARIES.items():
        leaks = [text[max(0, text.find(value) - 200):text.find(value) + 50] for text in written if value in text]
        assert not leaks, f"{name} leaked: {leaks[:1]}"


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug in the walk")
