"""faults.yaml: parsed strictly, shared out per plane, and deterministic under a seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmkctl_sandbox.faults import (
    FAULTS_VARIABLE,
    LATENCY_VARIABLE,
    ConfiguredFaults,
    FaultConfigError,
    load_config,
    parse_config,
)
from cmkctl_sandbox.wire import Request


def test_all_applies_to_every_plane_and_a_plane_overrides_it() -> None:
    config = parse_config({"seed": 1, "all": {"transient": 0.2, "latency": {"ms": 100}}, "arm": {"latency": {"ms": 5}}})
    aws, arm = config.for_plane("aws"), config.for_plane("arm")
    assert aws.transient_rate == pytest.approx(0.2) and aws.throttle == pytest.approx(0.04)
    assert (aws.latency_ms, arm.latency_ms, arm.drop) == (100, 5, pytest.approx(0.04))


@pytest.mark.parametrize("document, message", [
    ({"all": {"throttle": 2}}, "between 0 and 1"),
    ({"al": {}}, "unknown key"),
    ({"arm": {"latency": 100}}, "mapping"),
    ({"all": {"throttle": 0.6, "drop": 0.6}}, "more than 1"),
    ({"failOperations": {"method": "PUT"}}, "failOperations: a list"),
    ({"failOperations": [{"method": "GET", "path": "/x", "code": "C", "message": "M"}]}, r"failOperations\[0\].method"),
    ({"failOperations": [{"method": "PUT", "path": "/x", "code": "C"}]}, r"failOperations\[0\].message"),
    ({"failOperations": [{"method": "PUT", "path": "/x", "code": "C", "message": "M", "why": 1}]}, "unknown key"),
])
def test_bad_configurations_are_refused(document: object, message: str) -> None:
    with pytest.raises(FaultConfigError, match=message):
        parse_config(document)


def test_failed_operations_are_read_with_their_code_message_and_count() -> None:
    config = parse_config({"failOperations": [
        {"method": "patch", "path": "/dataCenters/dc1", "code": "C", "message": "M", "times": 2},
        {"method": "PUT", "path": "/vaults/kv1", "code": "D", "message": "N"}]})
    assert config.active
    assert [failure.as_state() for failure in config.failed_operations] == [
        {"method": "PATCH", "path": "/dataCenters/dc1", "code": "C", "message": "M", "times": 2},
        {"method": "PUT", "path": "/vaults/kv1", "code": "D", "message": "N", "times": None}]


def test_the_variable_wins_over_the_file_and_the_latency_shortcut_fills_in(tmp_path: Path) -> None:
    (tmp_path / "faults.yaml").write_text("all: {drop: 0.5}\n")
    assert load_config(tmp_path, {}).for_plane("graph").drop == 0.5
    config = load_config(tmp_path, {FAULTS_VARIABLE: "arm: {latency: {ms: 7}}", LATENCY_VARIABLE: "100"})
    assert config.for_plane("graph").drop == 0
    assert (config.for_plane("arm").latency_ms, config.for_plane("astra").latency_ms) == (7, 100)


def test_the_same_seed_gives_the_same_faults_to_the_same_requests() -> None:
    requests = [Request("PUT", f"/subscriptions/s/v{i}", {}, {}, b"{}") for i in range(200)]

    def kinds(seed: int) -> list[str]:
        faults = ConfiguredFaults(parse_config({"seed": seed, "all": {"transient": 0.5, "timeout": {"rate": 0.1,
                                                                                                   "ms": 0}}}))
        return [(reply.fault if (reply := faults.before("arm", r)) else "-") for r in requests]

    assert kinds(4) == kinds(4) != kinds(5)
    assert 60 < sum(k != "-" for k in kinds(4)) < 140
