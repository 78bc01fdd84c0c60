"""Azure key rotation policies, end to end through the real CLI against the sandbox's data plane."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import load_state
from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, Result, apply_ok, mutating_calls, plan_apply_plan, write
from tests.emulated import issue_canaries

EXAMPLE = EXAMPLES / "key-rotation.yaml"
ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"
KEY = "azure_key.eastus.acme-rotation-eastus/astra-eastus"
# Key Vault's data plane is the vault's own host; its paths start at the vault.
VAULT_HOST = "acme-rotation-eastus.vault.azure.net"
POLICY_PATH = "/keys/astra-eastus/rotationpolicy"
DAY = 86400


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")


def key_record(sandbox: Path, vault: str = "acme-rotation-eastus", key: str = "astra-eastus") -> dict[str, Any]:
    record: dict[str, Any] = load_state(sandbox)["arm"]["vaults"][vault]["keys"][key]
    return record


def plan_json(cmkctl: Callable[..., Result], manifest: Path, sandbox: Path) -> dict[str, Any]:
    result = cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--format", "json")
    assert result.code == 0, result.out + result.err
    document: dict[str, Any] = json.loads(result.out)
    return document


def changed_steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["steps"] if s["actions"] not in (["no-op"], ["read"])]


def test_a_key_declared_with_a_policy_is_created_with_it(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    plan_apply_plan(cmkctl, EXAMPLE, sandbox)
    record = key_record(sandbox)
    assert record["rotationPolicy"]["attributes"] == {"expiryTime": "P2Y"}
    assert record["rotationPolicy"]["lifetimeActions"] == [
        {"trigger": {"timeAfterCreate": "P1Y"}, "action": {"type": "Rotate"}},
        {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}},
    ]
    # The first version expires as the later ones will, two years after its creation.
    first = record["versions"][0]
    assert 729 * DAY <= first["exp"] - first["created"] <= 731 * DAY
    # One create (ARM carries the policy); the empty plan read the policy through the data plane.
    calls = read_calls(sandbox)
    assert [c["method"] for c in calls if c["mutating"] and "/keys/astra-eastus" in c["path"]] == ["PUT"]
    assert any((c.get("host"), c["path"]) == (VAULT_HOST, POLICY_PATH) and c["status"] == 200 for c in calls)
    live = {s["address"]: s for s in plan_json(cmkctl, EXAMPLE, sandbox)["steps"]}[KEY]["live"]
    assert live["rotationPolicy"] == {"rotateAfter": "P1Y", "rotateBeforeExpiry": None, "expiresAfter": "P2Y",
                                      "notifyBefore": "P30D"}
    assert live["enabled"] is True and live["expires"] == first["exp"] and live["notBefore"] is None


def test_a_changed_policy_is_one_update_through_the_data_plane(cmkctl: Callable[..., Result],
                                                                 tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, EXAMPLE, sandbox)
    changed = write(tmp_path / "changed.yaml", EXAMPLE.read_text().replace("rotateAfter: P1Y", "rotateAfter: P180D"))
    steps = changed_steps(plan_json(cmkctl, changed, sandbox))
    assert [(s["address"], s["actions"]) for s in steps] == [(KEY, ["update"])]
    assert [c["name"] for c in steps[0]["changes"]] == ["rotationPolicy"]
    before = len(read_calls(sandbox))
    apply_ok(cmkctl, changed, sandbox)
    writes = [c for c in read_calls(sandbox)[before:] if c["mutating"] and c["status"] < 400]
    assert [(c["method"], c.get("host"), c["path"], c["plane"]) for c in writes] == [
        ("PUT", VAULT_HOST, POLICY_PATH, "keyvault")]
    assert key_record(sandbox)["rotationPolicy"]["lifetimeActions"][0]["trigger"] == {"timeAfterCreate": "P180D"}
    again = cmkctl("plan", "-f", changed, "--sandbox", sandbox, "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.out, again.out + again.err


def with_rotation(text: str) -> str:
    # Every Azure key of the fleet rotates every 90 days and expires after a year.
    return text.replace("size: 3072}", "size: 3072, rotation: {rotateAfter: P90D, expiresAfter: P1Y}}")


def test_a_rotation_by_policy_moves_only_the_cassandra_data_center(cmkctl: Callable[..., Result],
                                                                    tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    manifest = write(tmp_path / "all-systems.yaml", with_rotation(ALL_SYSTEMS.read_text()))
    apply_ok(cmkctl, manifest, sandbox)
    assert cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode").code == 0
    quiet = cmkctl("sandbox", "advance-clock", sandbox, "--days", "30")
    assert quiet.code == 0 and quiet.out == ""  # nothing is due yet
    moved = cmkctl("sandbox", "advance-clock", sandbox, "--days", "61")
    assert moved.code == 0, moved.err
    assert len(moved.out.split()) == 6  # each of the six Azure keys has its second version
    assert len(key_record(sandbox, "acme-cass-eus", "cass-eus")["versions"]) == 2
    document = plan_json(cmkctl, manifest, sandbox)
    steps = changed_steps(document)
    # Astra, Confluent and Mongo hold versionless key identifiers: they follow the rotation.
    assert [(s["address"], s["actions"]) for s in steps] == [
        ("cassandra_data_center.eastus.acme-cassandra/dc-eastus", ["update"])]
    assert "with keyVersion: latest, the key's current one after a rotation" in steps[0]["reason"]
    current = key_record(sandbox, "acme-cass-eus", "cass-eus")["versions"][-1]["version"]
    disk = next(c for c in steps[0]["changes"] if c["name"] == "managedDiskCustomerKeyUri")
    assert disk["after"].endswith(f"/keys/cass-eus/{current}")
    apply_ok(cmkctl, manifest, sandbox)
    assert cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--detailed-exitcode").code == 0


def test_rotate_key_keeps_working_and_new_versions_expire_by_policy(cmkctl: Callable[..., Result],
                                                                     tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, EXAMPLE, sandbox)
    rotated = cmkctl("sandbox", "rotate-key", sandbox, "acme-rotation-eastus", "astra-eastus")
    assert rotated.code == 0
    versions = key_record(sandbox)["versions"]
    assert rotated.out.strip().endswith(versions[-1]["version"]) and len(versions) == 2
    assert 729 * DAY <= versions[-1]["exp"] - versions[-1]["created"] <= 731 * DAY
    shown = cmkctl("sandbox", "show", sandbox).out
    assert "(2 versions)  policy: Rotate after P1Y, Notify before expiry P30D, versions expire after P2Y" in shown


def test_an_expiry_without_a_rotation_before_it_is_warned(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    late = write(tmp_path / "late.yaml", EXAMPLE.read_text().replace("rotateAfter: P1Y", "rotateAfter: P3Y"))
    validated = cmkctl("validate", late)
    assert validated.code == 0
    line = next(n for n, text in enumerate(late.read_text().splitlines(), 1) if "rotation:" in text)
    assert f"{late}:{line}: regions[0].keys[0].rotation: key astra-eastus: rotateAfter P3Y is not shorter than " \
           "expiresAfter P2Y" in validated.err
    assert "[W-ROTATION-EXPIRY]" in validated.err
    kept = [line for line in EXAMPLE.read_text().splitlines(keepends=True) if "rotateAfter:" not in line]
    none = write(tmp_path / "none.yaml", "".join(kept))
    assert "no rotation is declared" in cmkctl("validate", none).err
    planned = cmkctl("plan", "-f", late, "--sandbox", tmp_path / "sandbox")
    assert planned.code == 0
    assert "rotateAfter P3Y is not shorter than expiresAfter P2Y" in planned.out + planned.err
    assert "W-ROTATION-EXPIRY" in plan_json(cmkctl, late, tmp_path / "sandbox")["notices"][0]["code"]
    fine = cmkctl("validate", EXAMPLE)
    assert fine.code == 0 and "W-ROTATION-EXPIRY" not in fine.err


@pytest.mark.parametrize(("rotation", "why"), [
    ("{expiresAfter: PT1S}", "no rotation"),
    ("{expiresAfter: P1D, notifyBefore: PT1H}", "a day, no rotation"),
    ("{rotateAfter: P1Y, expiresAfter: P29D}", "rotation after expiry"),
])
def test_a_key_that_would_expire_within_days_of_being_made_is_refused(
        rotation: str, why: str, cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    """A version expiring, unrotated, a second (or any time under 30 days) after it is made is handed to its
    consumers already near expiry: refused at validate and at plan, nothing touched (not merely warned)."""
    text = EXAMPLE.read_text()
    policy = text[text.index("        rotation:"):text.index("    roleAssignments:")]
    short = write(tmp_path / "short.yaml", text.replace(policy, f"        rotation: {rotation}\n"))
    line = next(n for n, text in enumerate(short.read_text().splitlines(), 1) if "rotation:" in text)
    validated = cmkctl("validate", short)
    assert validated.code == 3, validated.err
    assert f"{short}:{line}: regions[0].keys[0].rotation: key astra-eastus: each version expires " in validated.err
    assert "[R-ROTATION-EXPIRY]" in validated.err and "W-ROTATION-EXPIRY" not in validated.err
    planned = cmkctl("plan", "-f", short, "--sandbox", tmp_path / "sandbox")
    assert planned.code == 3 and "Plan:" not in planned.out
    assert mutating_calls(tmp_path / "sandbox") == []
    month = write(tmp_path / "month.yaml", text.replace(policy, "        rotation: {expiresAfter: P30D}\n"))
    warned = cmkctl("validate", month)  # at the floor: a warning, as any unrotated expiry is
    assert warned.code == 0 and "[W-ROTATION-EXPIRY]" in warned.err


@pytest.mark.parametrize(("field", "value", "message"), [
    ("expiresAfter: P2Y", "expiresAfter: 2Y", "'2Y' is not an ISO 8601 duration"),
    ("rotateAfter: P1Y", "rotateAfter: P0D", "'P0D' is not a positive duration"),
])
def test_a_bad_duration_is_refused_with_its_line(cmkctl: Callable[..., Result], tmp_path: Path, field: str,
                                                 value: str, message: str) -> None:
    bad = write(tmp_path / "bad.yaml", EXAMPLE.read_text().replace(field, value))
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if value in text)
    result = cmkctl("validate", bad)
    assert result.code == 3
    assert f"{bad}:{line}: regions[0].keys[0].rotation.{value.split(':')[0]}: {message}" in result.err
    assert "Traceback" not in result.err


def test_rotation_fields_that_contradict_are_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    both = write(tmp_path / "both.yaml", EXAMPLE.read_text().replace(
        "rotateAfter: P1Y", "rotateAfter: P1Y\n          rotateBeforeExpiry: P60D"))
    result = cmkctl("validate", both)
    assert result.code == 3
    assert "regions[0].keys[0].rotation: rotateAfter and rotateBeforeExpiry exclude each other: declare one" \
        in result.err
    kept = [line for line in EXAMPLE.read_text().splitlines(keepends=True) if "expiresAfter:" not in line]
    orphan = write(tmp_path / "orphan.yaml", "".join(kept))
    refused = cmkctl("validate", orphan)
    assert refused.code == 3 and "regions[0].keys[0].rotation: notifyBefore needs expiresAfter" in refused.err


def test_only_a_declared_policy_costs_a_data_plane_read(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, EXAMPLE, sandbox)
    before = len(read_calls(sandbox))
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--detailed-exitcode").code == 0
    data_plane = [c for c in read_calls(sandbox)[before:] if c["plane"] == "keyvault"]
    assert [(c["method"], c["host"], c["path"]) for c in data_plane if c["status"] == 200] == [
        ("GET", VAULT_HOST, POLICY_PATH)]
    # Besides, at most the one challenge azure-keyvault-keys asks for per vault host.
    assert [c["status"] for c in data_plane if c["status"] != 200] in ([], [401])
    kept = [line for line in EXAMPLE.read_text().splitlines(keepends=True)
            if "rotation:" not in line and not line.startswith(("          rotate", "          expires",
                                                                 "          notify"))]
    plain = write(tmp_path / "plain.yaml", "".join(kept))
    before = len(read_calls(sandbox))
    assert cmkctl("plan", "-f", plain, "--sandbox", sandbox, "--detailed-exitcode").code == 0
    assert [c for c in read_calls(sandbox)[before:] if c["plane"] == "keyvault"] == []


def test_the_data_plane_token_never_shows(cmkctl: Callable[..., Result], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator signs its tokens with a canary; every token sent is kept, to be looked for.
    sent = issue_canaries(monkeypatch, dataclasses.replace(Issued.random(), azure_signing_key="canary-azure-51c9"))
    sandbox, log = tmp_path / "sandbox", tmp_path / "debug.log"
    apply_ok(cmkctl, EXAMPLE, sandbox)
    planned = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--debug-file", log)
    assert planned.code == 0
    exchanges = [json.loads(line.split(" ", 2)[2]) for line in log.read_text().splitlines()
                 if line.startswith("cmkctl http ")]
    policy = [e for e in exchanges if e["path"] == POLICY_PATH]
    assert [(e["plane"], e["request"]["Authorization"]) for e in policy] == [("keyvault", "***")]
    everything = planned.out + planned.err + log.read_text() + "".join(
        p.read_text(errors="replace") for p in sandbox.rglob("*") if p.is_file())
    assert "canary-azure-51c9" not in everything
    assert sent and not [token for token in sent if token in everything]


def test_a_saved_plan_of_a_policy_change_applies_in_a_later_run(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside any repository, the checkout a saved plan names files in is the folder
    sandbox = tmp_path / "sandbox"
    apply_ok(cmkctl, EXAMPLE, sandbox)
    changed = write(tmp_path / "changed.yaml", EXAMPLE.read_text().replace("rotateAfter: P1Y", "rotateAfter: P200D"))
    saved = tmp_path / "plan.json"
    assert cmkctl("plan", "-f", changed, "--sandbox", sandbox, "--out", saved).code == 0
    # The next run's sandbox listens on another port, so the vault's vaultUri differs: not a change.
    applied = cmkctl("apply", saved, "--sandbox", sandbox)
    assert applied.code == 0 and "Apply complete: 1 changed" in applied.out, applied.out + applied.err
    assert key_record(sandbox)["rotationPolicy"]["lifetimeActions"][0]["trigger"] == {"timeAfterCreate": "P200D"}


# What Key Vault refuses to store, each refused at validate with the service's limit named.
BEYOND_KEY_VAULT = {
    "an expiry of two days": ({"expiresAfter: P2Y": "expiresAfter: P2D", "notifyBefore: P30D": "notifyBefore: P7D",
                               "rotateAfter: P1Y": "rotateAfter: P7D"},
                              "expiresAfter", "expiresAfter P2D is shorter than 28 days, Key Vault's least expiryTime"),
    "a rotation an hour after creation": ({"rotateAfter: P1Y": "rotateAfter: PT1H"}, "rotateAfter",
                                          "rotateAfter PT1H is shorter than 7 days: Key Vault rotates a key 7 days "
                                          "after its creation at the earliest"),
    "a notice a day before expiry": ({"notifyBefore: P30D": "notifyBefore: P1D"}, "notifyBefore",
                                     "notifyBefore P1D is shorter than 7 days: Key Vault acts 7 days before expiry"),
    "a rotation three days before expiry": ({"rotateAfter: P1Y": "rotateBeforeExpiry: P3D"}, "rotateBeforeExpiry",
                                            "rotateBeforeExpiry P3D is shorter than 7 days"),
    "a rotation two days after creation": ({"rotateAfter: P1Y": "rotateBeforeExpiry: P60D",
                                            "expiresAfter: P2Y": "expiresAfter: P62D"}, "rotateBeforeExpiry",
                                           "rotateBeforeExpiry P60D with expiresAfter P62D comes less than 7 days "
                                           "after a version's creation"),
}


@pytest.mark.parametrize("case", BEYOND_KEY_VAULT)
def test_durations_key_vault_refuses_are_refused_before_any_call(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                 case: str) -> None:
    replacements, field, said = BEYOND_KEY_VAULT[case]
    text = EXAMPLE.read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    manifest = write(tmp_path / "m.yaml", text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith(f"{field}:"))
    for command in (("validate", manifest), ("plan", "-f", manifest, "--sandbox", tmp_path / "sandbox")):
        result = cmkctl(*command)
        assert result.code == 3, (case, result.out, result.err)
        assert f"m.yaml:{line}: regions[0].keys[0].rotation.{field}: {said}" in result.err, result.err
        assert "[R-ROTATION-LIMITS]" in result.err
    assert not (tmp_path / "sandbox" / "calls.jsonl").exists()


def test_the_least_durations_key_vault_takes_are_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = (EXAMPLE.read_text().replace("rotateAfter: P1Y", "rotateAfter: P7D")
            .replace("expiresAfter: P2Y", "expiresAfter: P28D").replace("notifyBefore: P30D", "notifyBefore: P21D"))
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err
