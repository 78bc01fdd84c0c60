"""A saved plan applies only as it was reviewed: unedited, where it was made, signed when a key asks for it."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.state import read_calls
from reconciler.core.secrets import Secret
from reconciler.plan import signing
from reconciler.plan.document import digest
from tests.conftest import EXAMPLES, Result, mutating_calls, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
KEY = "azure_key.eastus.acme-astra-eastus/astra-eastus"
SIGNING_KEY = "plan-signing-key-that-must-never-show"


def saved_plan(cmkctl: Callable[..., Result], tmp_path: Path) -> tuple[Path, Path]:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    made = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved)
    assert made.code == 0, made.out + made.err
    return sandbox, saved


def rewritten(document: dict[str, Any], path: Path) -> Path:
    """The document written back with its digest recomputed, as anyone can."""
    document["digest"] = digest(document)
    path.write_text(json.dumps(document, indent=2))
    return path


def step_of(document: dict[str, Any], address: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in document["steps"] if s["address"] == address)
    return found


def smaller_key(document: dict[str, Any]) -> str:
    key = step_of(document, KEY)
    key["attributes"]["keySize"] = 2048
    next(c for c in key["changes"] if c["name"] == "keySize")["after"] = 2048
    return KEY


def added_step(document: dict[str, Any]) -> str:
    extra = copy.deepcopy(step_of(document, KEY))
    extra["address"] = extra["address"] + "-extra"
    extra["identity"]["name"] = "astra-eastus-extra"
    document["steps"].append(extra)
    return str(extra["address"])


def removed_step(document: dict[str, Any]) -> str:
    document["steps"].remove(step_of(document, "astra_registration.westus2.serverless"))
    return "astra_registration.westus2.serverless"


def moved_address(document: dict[str, Any]) -> str:
    step_of(document, KEY)["address"] = KEY + "-moved"
    return KEY


EDITS = {"a changed attribute": smaller_key, "an added step": added_step, "a removed step": removed_step,
         "a changed address": moved_address}


def test_every_edit_of_a_saved_plan_is_refused_and_the_unedited_plan_applies(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    for name, edit in EDITS.items():
        document = json.loads(saved.read_text())
        named = edit(document)
        result = cmkctl("apply", rewritten(document, tmp_path / "edited.json"), "--sandbox", sandbox)
        assert result.code == 1, (name, result.out, result.err)
        assert "the file was edited after it was made; nothing was changed" in result.err, name
        assert named in result.err, name
        assert "Traceback" not in result.err
        assert mutating_calls(sandbox) == [], name
    applied = cmkctl("apply", saved, "--sandbox", sandbox)
    assert applied.code == 0, applied.out + applied.err
    assert "Apply complete: 12 changed" in applied.out


def test_the_refusal_names_the_attribute_that_differs(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    document = json.loads(saved.read_text())
    smaller_key(document)
    result = cmkctl("apply", rewritten(document, saved), "--sandbox", sandbox)
    assert f"{KEY}: attributes (keySize), changes (keySize) differ from the plan made now" in result.err


def test_a_signed_plan_applies_with_its_key_and_the_key_never_shows(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMKCTL_PLAN_SIGNING_KEY", SIGNING_KEY)
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    assert json.loads(saved.read_text())["signature"].startswith("hmac-sha256:")
    applied = cmkctl("apply", saved, "--sandbox", sandbox)
    assert applied.code == 0, applied.out + applied.err
    for where in (saved.read_text(), applied.out, applied.err, cmkctl("show", saved, "--format", "json").out):
        assert SIGNING_KEY not in where


def test_with_a_key_set_an_unsigned_plan_is_refused(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    assert "signature" not in json.loads(saved.read_text())
    monkeypatch.setenv("CMKCTL_PLAN_SIGNING_KEY", SIGNING_KEY)
    result = cmkctl("apply", saved, "--sandbox", sandbox)
    assert result.code == 1
    assert "the plan is not signed, and a plan signing key is set" in result.err
    assert mutating_calls(sandbox) == []


def test_a_plan_signed_with_another_key_or_edited_after_signing_is_refused(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMKCTL_PLAN_SIGNING_KEY", "another-key")
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    edited = json.loads(saved.read_text())
    smaller_key(edited)
    monkeypatch.setenv("CMKCTL_PLAN_SIGNING_KEY", SIGNING_KEY)
    for plan in (saved, rewritten(edited, tmp_path / "edited.json")):
        result = cmkctl("apply", plan, "--sandbox", sandbox)
        assert result.code == 1
        assert "the plan's signature does not match the plan signing key" in result.err
        assert SIGNING_KEY not in result.err and "another-key" not in result.err
    assert mutating_calls(sandbox) == []


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository of manifests: its root holds .git, the manifests are under cmk/."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "cmk").mkdir()
    (root / "docs" / "deep").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "cmk" / "astra.yaml")
    return root


def test_a_saved_plan_applies_from_another_folder_of_the_same_checkout(
    cmkctl: Callable[..., Result], checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    assert cmkctl("plan", "-f", "cmk/", "--sandbox", "../sandbox", "--out", "plan.json").code == 0
    assert json.loads((checkout / "plan.json").read_text())["manifest"]["files"] == [
        {"path": "cmk/astra.yaml", "sha256": hashlib.sha256((checkout / "cmk" / "astra.yaml").read_bytes()).hexdigest()}]
    monkeypatch.chdir(checkout / "docs" / "deep")
    applied = cmkctl("apply", "../../plan.json", "--sandbox", "../../../sandbox")
    assert applied.code == 0, applied.out + applied.err
    assert "Apply complete: 12 changed" in applied.out


def test_a_checkout_relative_plan_outside_any_checkout_says_where_to_run_it(
    cmkctl: Callable[..., Result], checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    assert cmkctl("plan", "-f", "cmk/astra.yaml", "--sandbox", "../sandbox", "--out", "plan.json").code == 0
    monkeypatch.chdir(checkout.parent)
    result = cmkctl("apply", "repo/plan.json", "--sandbox", "sandbox")
    assert result.code == 1
    assert f"the plan names the manifest 'cmk/astra.yaml', which does not exist under {checkout.parent}" in result.err
    assert "run cmkctl inside the checkout the plan was made in" in result.err


def test_a_sandbox_plan_refuses_the_real_endpoints(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    for variable in ("CMKCTL_ARM_ENDPOINT", "CMKCTL_GRAPH_ENDPOINT", "CMKCTL_ASTRA_ENDPOINT"):
        monkeypatch.setenv(variable, "https://127.0.0.1:9")  # were it reached: loopback, closed
    result = cmkctl("apply", saved)
    assert result.code == 1
    assert (f"the plan was made against the sandbox in {sandbox.resolve()}, and this apply would run against "
            "the real control planes: apply it with --sandbox") in result.err
    assert "Traceback" not in result.err


def test_a_plan_of_the_real_control_planes_or_another_sandbox_refuses_this_sandbox(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    real = json.loads(saved.read_text())
    real["context"]["sandbox"] = None
    refused = cmkctl("apply", rewritten(real, tmp_path / "real.json"), "--sandbox", sandbox)
    assert refused.code == 1
    assert "the plan was made against the real control planes, and this apply runs against the sandbox" in refused.err
    other = cmkctl("apply", saved, "--sandbox", tmp_path / "other")
    assert other.code == 1
    assert f"not the one in {(tmp_path / 'other').resolve()}" in other.err
    assert mutating_calls(sandbox) == []


def test_a_saved_plan_records_its_sandbox_and_accounts(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    context = json.loads(saved.read_text())["context"]
    assert context["sandbox"] == str(sandbox.resolve())
    assert context["accounts"] == {"azure_tenant_id": "11111111-1111-1111-1111-111111111111",
                                   "azure_subscription_id": "22222222-2222-2222-2222-222222222222",
                                   "astra_organization_id": "33333333-3333-3333-3333-333333333333"}


def test_a_plan_that_records_no_context_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    earlier = json.loads(saved.read_text())
    del earlier["context"]
    result = cmkctl("apply", rewritten(earlier, saved), "--sandbox", sandbox)
    assert result.code == 1
    assert "the plan does not record what it was made against (an earlier cmkctl wrote it)" in result.err
    assert mutating_calls(sandbox) == []


# What a pull request's author who can edit the uploaded plan would have apply read instead of the
# reviewed manifests: a key set with a key and vault nobody reviewed.
EVIL = EXAMPLE.read_text().replace("astra-eastus", "evil-eastus")


def attacker_plan(cmkctl: Callable[..., Result], tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch,
                  ) -> dict[str, Any]:
    """A valid plan of EVIL, made in a repository of the attacker's beside the checkout."""
    evil = tmp_path / "evil"
    (evil / ".git").mkdir(parents=True)
    (evil / "astra.yaml").write_text(EVIL)
    monkeypatch.chdir(evil)
    made = cmkctl("plan", "-f", "astra.yaml", "--sandbox", sandbox, "--out", "evil.json")
    assert made.code == 0, made.err
    document: dict[str, Any] = json.loads((evil / "evil.json").read_text())
    return document


def naming(document: dict[str, Any], name: str, content: bytes, key: str | None = None) -> dict[str, Any]:
    """The plan made to name `name` (holding `content`), every digest (and the signature) recomputed."""
    named = copy.deepcopy(document)
    sha = hashlib.sha256(content).hexdigest()
    named["manifest"]["files"] = [{"path": name, "sha256": sha} if isinstance(f, dict) else name
                                  for f in named["manifest"]["files"]]
    # As the loader digests it: the path as apply would find it, then the bytes.
    portable = Path(name).name if name.startswith(("/", "..")) or "linked" in name else name
    named["manifest"]["digest"] = hashlib.sha256(portable.encode() + b"\0" + content).hexdigest()
    named["digest"] = digest(named)
    if key is not None:
        named["signature"] = signing.signature(named, Secret(key))
    return named


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_saved_plan_never_re_plans_from_a_file_outside_the_reviewed_checkout(
    cmkctl: Callable[..., Result], checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed: bool
) -> None:
    key = SIGNING_KEY if signed else None
    if key:
        monkeypatch.setenv("CMKCTL_PLAN_SIGNING_KEY", key)
    sandbox = tmp_path / "sandbox"
    evil = attacker_plan(cmkctl, tmp_path, sandbox, monkeypatch)
    outside = tmp_path / "evil" / "astra.yaml"
    (checkout / "cmk" / "linked.yaml").symlink_to(outside)
    (checkout / "plan.md").write_text(EVIL)  # downloaded beside the plan by the workflow
    passwd = Path("/etc/passwd").read_bytes()
    monkeypatch.chdir(checkout)
    for name, content in (("../evil/astra.yaml", EVIL.encode()), (str(outside), EVIL.encode()),
                          ("cmk/linked.yaml", EVIL.encode()), ("plan.md", EVIL.encode()),
                          ("/etc/passwd", passwd), ("cmk/../../evil/astra.yaml", EVIL.encode())):
        planted = checkout / "plan.json"
        planted.write_text(json.dumps(naming(evil, name, content, key), indent=2))
        result = cmkctl("apply", "plan.json", "--sandbox", sandbox)
        assert result.code == 1, (name, result.out, result.err)
        assert "nothing was read or changed" in result.err, (name, result.err)
        assert "Traceback" not in result.err and "evil-eastus" not in result.out + result.err, name
        assert mutating_calls(sandbox) == [], name
        for line in passwd.decode().splitlines()[:3]:  # the file is named, never echoed
            assert line not in result.out + result.err, name
    reviewed = cmkctl("plan", "-f", "cmk/astra.yaml", "--sandbox", sandbox, "--out", "plan.json")
    assert reviewed.code == 0, reviewed.err
    applied = cmkctl("apply", "plan.json", "--sandbox", sandbox)
    assert applied.code == 0 and "Apply complete: 12 changed" in applied.out, applied.out + applied.err


def test_a_manifest_whose_content_is_not_the_reviewed_one_is_refused_before_it_is_parsed(
    cmkctl: Callable[..., Result], checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    assert cmkctl("plan", "-f", "cmk/astra.yaml", "--sandbox", "../sandbox", "--out", "plan.json").code == 0
    (checkout / "cmk" / "astra.yaml").write_text(EVIL + "unknownField: [\n")  # it would not even parse
    result = cmkctl("apply", "plan.json", "--sandbox", "../sandbox")
    assert result.code == 1
    assert "cmk/astra.yaml: its content is not what the plan was made from (SHA-256 " in result.err
    assert "nothing in it was parsed and nothing was changed" in result.err
    assert "unknownField" not in result.err and "YAML" not in result.err


def test_a_plan_of_manifests_outside_the_checkout_is_not_saved(
    cmkctl: Callable[..., Result], checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout / "docs")
    outside = write(tmp_path / "elsewhere" / "astra.yaml", EXAMPLE.read_text())
    result = cmkctl("plan", "-f", outside, "--sandbox", tmp_path / "sandbox", "--out", "plan.json")
    assert result.code == 1
    assert f"cannot save the plan: {outside} is outside the checkout ({checkout})" in result.err
    assert not (tmp_path / "sandbox" / "calls.jsonl").exists()  # refused before anything was read


def test_a_plan_of_an_earlier_format_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    earlier = json.loads(saved.read_text())
    earlier["format_version"] = "1.0"
    earlier["manifest"]["files"] = [f["path"] for f in earlier["manifest"]["files"]]
    for command in (("apply", rewritten(earlier, saved), "--sandbox", sandbox), ("show", saved)):
        result = cmkctl(*command)
        assert result.code == 1
        assert ("the plan's format_version is '1.0', and this cmkctl reads format 3.0 only (since 1.0: 2.0 records "
                "each manifest with its SHA-256, from the root of the checkout; 3.0 adds applicable, false when a "
                "step is forbidden and apply refuses the plan): plan again with this cmkctl") in result.err
    assert mutating_calls(sandbox) == []


def test_a_plan_of_the_last_format_is_refused_saying_what_changed_since(cmkctl: Callable[..., Result],
                                                                       tmp_path: Path) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    calls = len(read_calls(sandbox))
    earlier = json.loads(saved.read_text())
    earlier["format_version"] = "2.0"  # as cmkctl 0.1.0 wrote it: no `applicable`
    del earlier["applicable"]
    for command in (("apply", rewritten(earlier, saved), "--sandbox", sandbox), ("show", saved)):
        result = cmkctl(*command)
        assert result.code == 1, result.out + result.err
        assert (f"{saved}: the plan's format_version is '2.0', and this cmkctl reads format 3.0 only (since 2.0: 3.0 "
                "adds applicable, false when a step is forbidden and apply refuses the plan): plan again with this "
                "cmkctl") in result.err
    assert len(read_calls(sandbox)) == calls  # refused before anything connects


def test_a_plan_of_a_format_this_cmkctl_does_not_know_is_refused(cmkctl: Callable[..., Result],
                                                                tmp_path: Path) -> None:
    sandbox, saved = saved_plan(cmkctl, tmp_path)
    later = json.loads(saved.read_text())
    later["format_version"], later["cmkctl_version"] = "4.0", "9.9.0\x1b[2J"
    result = cmkctl("apply", rewritten(later, saved), "--sandbox", sandbox)
    assert result.code == 1, result.out + result.err
    assert (f"{saved}: the plan's format_version is '4.0', a format this cmkctl does not know (it reads format 3.0 "
            "only; the plan says cmkctl '9.9.0\\x1b[2J' wrote it): apply it with the cmkctl that wrote it, or plan "
            "again with this one") in result.err
    assert mutating_calls(sandbox) == []


def test_a_forbidden_plan_saved_says_it_is_not_applicable_and_apply_refuses_it(cmkctl: Callable[..., Result],
                                                                               tmp_path: Path) -> None:
    sandbox, saved = tmp_path / "sandbox", tmp_path / "plan.json"
    write(sandbox / "world.yaml", "astra:\n  accounts:\n"
          "    - {product: serverless, provider: azure, region: westus2, providerIds: []}\n")
    made = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--out", saved)
    assert made.code == 3, made.out + made.err
    assert "[R-ASTRA-REGION]" in made.err
    assert (f"{saved} holds it for review only: it is not applicable (applicable: false), and "
            f"`cmkctl apply {saved}` refuses it") in made.err
    assert json.loads(saved.read_text())["applicable"] is False
    calls = len(read_calls(sandbox))
    applied = cmkctl("apply", saved, "--sandbox", sandbox)
    assert applied.code == 3, applied.out + applied.err
    assert (f"{saved}: the plan is not applicable (applicable: false): it has forbidden steps; nothing was read or "
            "changed:\n  - astra_provider_accounts.westus2.serverless: ") in applied.err
    assert len(read_calls(sandbox)) == calls  # refused before anything connects


def test_a_plan_that_names_itself_as_its_manifest_is_refused(
    cmkctl: Callable[..., Result], checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = tmp_path / "sandbox"
    evil = attacker_plan(cmkctl, tmp_path, sandbox, monkeypatch)
    monkeypatch.chdir(checkout)
    itself = checkout / "cmk" / "plan.yaml"  # JSON is YAML: the plan would be read as a manifest
    itself.write_text(json.dumps(naming(evil, "cmk/plan.yaml", b"")))
    result = cmkctl("apply", itself, "--sandbox", sandbox)
    assert result.code == 1
    assert "the plan names the manifest 'cmk/plan.yaml', which is the plan itself" in result.err
    assert mutating_calls(sandbox) == []


def test_a_plan_of_manifests_of_another_repository_is_refused_at_plan_time(
    cmkctl: Callable[..., Result], checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys"
    (keys / ".git").mkdir(parents=True)
    shutil.copy(EXAMPLE, keys / "cmk.yaml")
    monkeypatch.chdir(checkout)
    result = cmkctl("plan", "-f", "../keys/cmk.yaml", "--sandbox", tmp_path / "sandbox", "--out", "plan.json")
    assert result.code == 1, result.out + result.err
    assert (f"cannot save the plan: ../keys/cmk.yaml belongs to the repository {keys}, not to the checkout cmkctl "
            f"runs in ({checkout}); apply would look for it in {checkout}: run cmkctl plan and apply from inside "
            f"{keys}") in result.err
    assert not (checkout / "plan.json").exists()
    assert not (tmp_path / "sandbox" / "calls.jsonl").exists()  # refused before anything was read
    monkeypatch.chdir(keys)  # from inside the manifests' repository the same plan saves and applies
    assert cmkctl("plan", "-f", "cmk.yaml", "--sandbox", tmp_path / "sandbox", "--out", "plan.json").code == 0
    applied = cmkctl("apply", "plan.json", "--sandbox", tmp_path / "sandbox")
    assert applied.code == 0 and "Apply complete: 12 changed" in applied.out, applied.out + applied.err
