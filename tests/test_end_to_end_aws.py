"""Astra on AWS KMS (Managed Clusters and Serverless), end to end against the sandbox's moto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox import Sandbox, load_state
from cmkctl_sandbox.aws import HALT_MARKER, HALT_VARIABLE
from cmkctl_sandbox.state import read_calls
from reconciler.core import kms_policy as kp
from tests.conftest import EXAMPLES, ROOT, Result, write

CLASSIC = EXAMPLES / "astra-managed-clusters-aws.yaml"
SERVERLESS = EXAMPLES / "astra-serverless-aws.yaml"
ACCOUNT = "123456789012"


def kms_keys(sandbox: Path) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = load_state(sandbox)["kms"]["keys"]
    return keys


def statements(key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(key["policy"])["Statement"] if "Sid" in s}


def key_in(sandbox: Path, region: str) -> dict[str, Any]:
    (key,) = [k for k in kms_keys(sandbox) if k["region"] == region]
    return key


@pytest.mark.parametrize("example", [CLASSIC, SERVERLESS], ids=["managed-clusters", "serverless"])
def test_plan_apply_plan_converges(cmkctl: Callable[..., Result], tmp_path: Path, example: Path) -> None:
    sandbox = tmp_path / "sandbox"
    before = cmkctl("plan", "-f", example, "--sandbox", sandbox, "--detailed-exitcode")
    assert before.code == 2, before.out + before.err
    assert [k for k in kms_keys(sandbox)] == []
    applied = cmkctl("apply", "-f", example, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    arns = sorted(k["arn"] for k in kms_keys(sandbox))
    after = cmkctl("plan", "-f", example, "--sandbox", sandbox, "--detailed-exitcode")
    assert after.code == 0, after.out + after.err
    assert "No changes. Live state matches the manifests." in after.out
    # moto keeps nothing between processes: the sandbox does, so IDs and ARNs stay.
    assert sorted(k["arn"] for k in kms_keys(sandbox)) == arns


def test_the_plan_shows_the_key_policy_statement_by_statement(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("plan", "-f", CLASSIC, "--sandbox", tmp_path / "sandbox")
    assert result.code == 0, result.err
    block = result.out.split("aws_kms_key.us-east-2.astra-classic-us-east-2 {")[1].split("}\n\n")[0]
    for sid in (kp.ROOT_SID, kp.EXTERNAL_SID, kp.ATTACHMENT_SID, "Allow key administrators"):
        assert f"+ policy[{sid}]" in block


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    sandbox = tmp_path / "sandbox"
    result = cmkctl("apply", "-f", CLASSIC, "--sandbox", sandbox, "--auto-approve")
    assert result.code == 0, result.out + result.err
    return sandbox


def test_the_key_policy_holds_the_required_statements_and_the_owners(applied: Path) -> None:
    state = load_state(applied)
    for region in ("us-east-2", "eu-west-1"):
        key = key_in(applied, region)
        assert key["aliases"] == [f"alias/astra-classic-{region}"]
        assert (key["keySpec"], key["keyUsage"], key["rotation"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", True)
        assert key["tags"] == {"managed-by": "cmkctl", "cmkctl-set": "acme-classic",
                               "cmkctl-address": f"aws_kms_key.{region}.astra-classic-{region}"}
        found = statements(key)
        (account,) = [a for a in _provider_ids(state, region)]
        creator = f"arn:aws:iam::{account}:role/creator"
        assert found[kp.ROOT_SID]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        assert found[kp.EXTERNAL_SID]["Principal"] == {"AWS": creator}
        assert sorted(found[kp.EXTERNAL_SID]["Action"]) == sorted(kp.EXTERNAL_ACTIONS)
        assert found[kp.ATTACHMENT_SID]["Principal"] == {"AWS": creator}
        assert sorted(found[kp.ATTACHMENT_SID]["Action"]) == sorted(kp.ATTACHMENT_ACTIONS)
        assert found[kp.ATTACHMENT_SID]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert "Allow key administrators" in statements(key_in(applied, "us-east-2"))


def _provider_ids(state: dict[str, Any], region: str) -> list[str]:
    from cmkctl_sandbox.astra import provider_ids

    return provider_ids(state, "managed-clusters", "aws", region)


def test_the_arn_is_registered_with_the_classic_path_after_the_policy(applied: Path) -> None:
    registered = {k["region"]: k["keyID"] for k in load_state(applied)["astra"]["keys"]["managed-clusters"]}
    assert registered == {r: key_in(applied, r)["arn"] for r in ("us-east-2", "eu-west-1")}
    calls = read_calls(applied)
    lookups = [c["path"] for c in calls if c["path"].endswith("/accounts")]
    assert all(p.startswith("/v2/kms/classic/provider/aws/region/") for p in lookups)
    posts = [i for i, c in enumerate(calls) if c["method"] == "POST" and c["path"] == "/v2/kms/classic"]
    creates = [i for i, c in enumerate(calls) if c["path"] == "kms:CreateKey"]
    assert len(posts) == 2 and len(creates) == 2
    # Regions run side by side and KMS calls are journalled without their region: each registration
    # needs a key of its own, created with its policy, first, so the n-th registration comes after at
    # least n CreateKeys (another region's key may still be on its way).
    for n, post in enumerate(posts, start=1):
        assert sum(i < post for i in creates) >= n, (n, calls)


def test_sandbox_show_lists_keys_tags_aliases_and_policies(cmkctl: Callable[..., Result], applied: Path) -> None:
    shown = cmkctl("sandbox", "show", applied)
    assert shown.code == 0, shown.err
    assert "AWS KMS (moto)" in shown.out
    assert "(alias/astra-classic-us-east-2)" in shown.out
    assert "'cmkctl-set': 'acme-classic'" in shown.out
    assert f"{kp.EXTERNAL_SID}: " in shown.out


def test_a_policy_changed_by_hand_is_repaired_and_other_statements_kept(cmkctl: Callable[..., Result],
                                                                       applied: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    key = key_in(applied, "eu-west-1")
    policy = json.loads(key["policy"])
    for statement in policy["Statement"]:
        if statement["Sid"] == kp.EXTERNAL_SID:
            statement["Action"] = ["kms:Decrypt"]
    policy["Statement"].append({"Sid": "Added by hand", "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditor"},
                                "Action": "kms:DescribeKey", "Resource": "*"})
    with Sandbox(applied, aws_account_id=ACCOUNT) as sandbox:
        client = boto3.client("kms", region_name="eu-west-1", endpoint_url=sandbox.endpoints.aws,
                              verify=sandbox.endpoints.ca_bundle, aws_access_key_id=sandbox.issued.aws_access_key_id,
                              aws_secret_access_key=sandbox.issued.aws_secret_access_key)
        client.put_key_policy(KeyId=key["keyId"], PolicyName="default", Policy=json.dumps(policy))
    plan = cmkctl("plan", "-f", CLASSIC, "--sandbox", applied, "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    assert f"~ policy[{kp.EXTERNAL_SID}]" in plan.out
    assert "Added by hand" not in plan.out
    assert "Plan: 0 to create, 1 to update" in plan.out
    assert cmkctl("apply", "-f", CLASSIC, "--sandbox", applied, "--auto-approve").code == 0
    repaired = statements(key_in(applied, "eu-west-1"))
    assert sorted(repaired[kp.EXTERNAL_SID]["Action"]) == sorted(kp.EXTERNAL_ACTIONS)
    assert "Added by hand" in repaired
    assert cmkctl("plan", "-f", CLASSIC, "--sandbox", applied, "--detailed-exitcode").code == 0


def test_a_second_key_for_a_registered_provider_region_exits_3_at_plan(cmkctl: Callable[..., Result],
                                                                      tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    other = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/00000000-0000-4000-8000-000000000001"
    write(sandbox / "world.yaml", "astra:\n  orgId: 33333333-3333-3333-3333-333333333333\n  registrations:\n"
          f"    - {{product: managed-clusters, provider: aws, region: us-east-2, keyID: '{other}'}}\n")
    result = cmkctl("plan", "-f", CLASSIC, "--sandbox", sandbox)
    assert result.code == 3, result.out + result.err
    assert "astra_registration.us-east-2.managed-clusters" in result.out + result.err
    assert "support ticket" in result.out + result.err
    assert not [c for c in read_calls(sandbox) if c["mutating"]]


def test_the_account_guard_refuses_another_account(tmp_path: Path) -> None:
    from reconciler.core.errors import GuardError
    from reconciler.manifest.model import Accounts
    from reconciler.providers.registry import build_handlers
    from reconciler.systems import PLUGINS
    from tests.emulated import connection_to

    with Sandbox(tmp_path / "sandbox", aws_account_id="111122223333") as sandbox, build_handlers(
        connection_to(sandbox), Accounts(aws_account_id=ACCOUNT), PLUGINS,
    ) as handlers, pytest.raises(GuardError, match="refusing to act in AWS account 111122223333"):
        handlers.by_kind["aws_kms_key"].read(identity={"accountId": ACCOUNT, "region": "us-east-2",
                                                       "alias": "alias/x"})


def test_a_plan_guards_the_account_as_an_apply_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A plan read in another account would show another account's keys as the manifest's.
    import reconciler.providers.registry as registry
    from reconciler.manifest.loader import load_one
    from reconciler.systems import PLUGINS
    from reconciler.usecases.session import RunOptions, open_run

    given: dict[str, Any] = {}
    build = registry.build_handlers

    def recording(connection: Any, accounts: Any, plugins: Any, **settings: Any) -> Any:
        given.update(aws_account_id=accounts.aws_account_id)
        return build(connection, accounts, plugins, **settings)

    monkeypatch.setattr(registry, "build_handlers", recording)
    key_set, _ = load_one([str(SERVERLESS)], plugins=PLUGINS)
    with open_run(key_set, RunOptions(sandbox=tmp_path / "sandbox", parallelism=1)):
        pass
    assert given["aws_account_id"] == ACCOUNT


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"apply ended ({process.returncode}) before reaching CreateKey: "
                                 f"{process.stderr.read().decode() if process.stderr else ''}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("apply never reached CreateKey")
        time.sleep(0.05)


def test_an_apply_killed_right_after_create_key_is_finished_with_one_key(cmkctl: Callable[..., Result],
                                                                        tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    env = {**os.environ, HALT_VARIABLE: "kms:CreateKey", "CMKCTL_LOG_DIR": str(tmp_path)}
    process = subprocess.Popen(
        # One step at a time: the other region's CreateKey must not race past the halt.
        [sys.executable, "-m", "reconciler", "apply", "-f", str(CLASSIC), "--sandbox", str(sandbox), "--auto-approve",
         "--parallelism", "1"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_for(sandbox / HALT_MARKER, process, 120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    (orphan,) = kms_keys(sandbox)
    assert orphan["aliases"] == [] and orphan["tags"]["cmkctl-set"] == "acme-classic"

    rerun = cmkctl("apply", "-f", CLASSIC, "--sandbox", sandbox, "--auto-approve")
    assert rerun.code == 0, rerun.out + rerun.err
    keys = kms_keys(sandbox)
    assert len(keys) == 2
    adopted = key_in(sandbox, orphan["region"])
    assert adopted["keyId"] == orphan["keyId"]
    for key in keys:
        assert len(key["aliases"]) == 1
        assert key["tags"]["cmkctl-set"] == "acme-classic"
        assert kp.EXTERNAL_SID in statements(key)
    registrations = load_state(sandbox)["astra"]["keys"]["managed-clusters"]
    assert sorted((r["region"], r["keyID"]) for r in registrations) == sorted((k["region"], k["arn"]) for k in keys)
    assert [c["path"] for c in read_calls(sandbox)].count("kms:CreateKey") == 2  # one per region, none twice
    assert cmkctl("plan", "-f", CLASSIC, "--sandbox", sandbox, "--detailed-exitcode").code == 0
