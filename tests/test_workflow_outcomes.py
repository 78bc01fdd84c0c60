"""The pull request workflow shows every outcome: its plan job's scripts run as Actions would run them.

Each `run:` step of the plan job runs in bash (`-eo pipefail`, as on a GitHub runner) in one
workspace, with its `env:` and `${{ }}` expressions filled in, GITHUB_OUTPUT and GITHUB_ENV
files, and fakes on PATH: `cmkctl` is the real one (plan against a sandbox), `gh` records what
would be posted, `az` answers a placeholder. A `uses:` step stands for an action that succeeds.
Steps run in order until one fails, as a job without `if:` conditions does.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import EXAMPLES, ROOT, write

WORKFLOW = ROOT / "manifests" / "ci" / "cmkctl.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")
CONTEXT = {"github.token": "fake-token", "github.event.pull_request.number": "7"}

FAKE_CMKCTL = """#!/bin/sh
if [ "$1" = plan ]; then exec "{python}" -m reconciler "$@" --sandbox "$CMKCTL_TEST_SANDBOX"; fi
exec "{python}" -m reconciler "$@"
"""
# Records each call, with the text of a --body-file or -F body=@FILE; lists no comment.
FAKE_GH = """#!{python}
import json, os, sys
args = sys.argv[1:]
body = None
for i, arg in enumerate(args):
    if arg == "--body-file":
        body = open(args[i + 1]).read()
    elif arg.startswith("body=@"):
        body = open(arg[len("body=@"):]).read()
with open(os.environ["GH_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "body": body}}) + "\\n")
"""
FAKE_AZ = "#!/bin/sh\necho placeholder-value\n"
# The cmkctl under test is installed already: nothing is fetched.
FAKE_PIP = "#!/bin/sh\nexit 0\n"


@dataclass
class Job:
    workspace: Path
    ran: dict[str, int] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    # What steps wrote to GITHUB_ENV: the environment of every later step, as on a runner.
    exported: dict[str, str] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    def comments(self) -> list[dict[str, Any]]:
        log = self.workspace / "gh.log"
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [call for call in calls if call["body"] is not None]


def fakes(folder: Path) -> Path:
    folder.mkdir()
    for name, text in (("cmkctl", FAKE_CMKCTL), ("gh", FAKE_GH), ("az", FAKE_AZ), ("pip", FAKE_PIP)):
        (folder / name).write_text(text.format(python=sys.executable))
        (folder / name).chmod(stat.S_IRWXU)
    return folder


def filled(text: str, job: Job) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("vars."):
            return job.variables.get(name.removeprefix("vars."), "")  # an unset variable is empty
        if name.startswith("steps."):
            step, _, output = name.removeprefix("steps.").partition(".outputs.")
            return job.outputs.get(step, {}).get(output, "")
        return CONTEXT[name]  # an expression this simulation does not know fails the test

    return EXPRESSION.sub(value, text)


def run_plan_job(workspace: Path, sandbox: Path, variables: dict[str, str] | None = None) -> Job:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    job = Job(workspace, variables=variables or {})
    path = f"{fakes(workspace.parent / 'bin')}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin"
    base = {"PATH": path, "HOME": str(workspace.parent), "GITHUB_REPOSITORY": "acme/keys", "NO_COLOR": "1",
            "CMKCTL_TEST_SANDBOX": str(sandbox), "GH_LOG": str(workspace / "gh.log"),
            "CMKCTL_LOG_DIR": str(workspace.parent), "PYTHONPATH": str(ROOT),
            # The conformance harness reads each exchange the sandbox journals.
            "CMKCTL_SANDBOX_JOURNAL_EXCHANGES": "1", **workflow.get("env", {})}
    for step in steps:
        assert "if" not in step, "the simulation runs steps in order; an if: would need evaluating"
        name = step.get("name") or step["uses"]
        job.ran[name] = 0 if "uses" in step else run_step(step, base, job)
        if job.ran[name] != 0:
            break
    return job


def run_step(step: dict[str, Any], base: dict[str, str], job: Job) -> int:
    output, environment = job.workspace.parent / "output", job.workspace.parent / "env"
    output.write_text("")
    environment.write_text("")
    env = {**base, **job.exported, **{k: filled(str(v), job) for k, v in step.get("env", {}).items()},
           "GITHUB_OUTPUT": str(output), "GITHUB_ENV": str(environment)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", filled(step["run"], job)],
                          cwd=job.workspace, env=env, capture_output=True, text=True, timeout=300)
    job.logs[step.get("name", "")] = done.stdout + done.stderr
    job.exported.update(assignments(environment))
    if "id" in step:
        job.outputs[step["id"]] = assignments(output)
    return done.returncode


def assignments(file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in file.read_text().splitlines() if "=" in line)


def workspace_with(tmp_path: Path, manifest_text: str) -> Path:
    workspace = tmp_path / "workspace"
    write(workspace / "cmk" / "keys.yaml", manifest_text)
    (workspace / ".git").mkdir()
    return workspace


def test_a_forbidden_plan_is_uploaded_and_commented_as_blocked_and_the_job_fails(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "astra:\n  accounts:\n"
          "    - {product: serverless, provider: azure, region: westus2, providerIds: []}\n")
    workspace = workspace_with(tmp_path, (EXAMPLES / "astra-serverless-azure.yaml").read_text())
    job = run_plan_job(workspace, sandbox)
    assert job.outputs["plan"]["exitcode"] == "3"
    assert (workspace / "plan.json").exists()
    assert job.ran["actions/upload-artifact@v6"] == 0
    posted = job.ran["Post the plan on the pull request (numbered comments, updated in place)"]
    assert posted == 0
    (comment,) = job.comments()
    assert comment["args"][:2] == ["pr", "comment"]
    body = comment["body"]
    assert body.startswith("<!-- cmkctl-plan 1 -->\n### cmkctl plan for key set `acme-astra`\n\n> [!CAUTION]\n"
                           "> **This plan is blocked**: 1 step(s) below are forbidden by a rule")
    assert "**Forbidden** `astra_provider_accounts.westus2.serverless`" in body
    assert list(job.ran.values())[-1] == 3, job.ran  # the last step fails the check with the plan's code
    assert list(job.ran)[-1] == "Fail the check unless the plan can be applied"


def test_an_invalid_manifest_is_commented_with_why_and_the_job_fails(tmp_path: Path) -> None:
    text = (EXAMPLES / "astra-serverless-azure.yaml").read_text().replace("metadata:", "metadata:\n  colour: red", 1)
    workspace = workspace_with(tmp_path, text)
    job = run_plan_job(workspace, tmp_path / "sandbox")
    assert job.outputs["plan"]["exitcode"] == "3"
    (comment,) = job.comments()
    assert "> **This plan is blocked**: cmkctl exited with 3, so nothing will be applied. Why:" in comment["body"]
    assert "unknown field 'colour'" in comment["body"]
    assert list(job.ran.values())[-1] == 3


def test_an_applicable_plan_is_commented_and_the_job_passes(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, (EXAMPLES / "astra-serverless-azure.yaml").read_text())
    job = run_plan_job(workspace, tmp_path / "sandbox")
    assert job.outputs["plan"]["exitcode"] == "2"
    assert set(job.ran.values()) == {0}
    (comment,) = job.comments()
    assert "Plan: 12 to create" in comment["body"] and "blocked" not in comment["body"]


def test_with_a_signing_secret_configured_the_reviewed_plan_is_signed(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, (EXAMPLES / "astra-serverless-azure.yaml").read_text())
    job = run_plan_job(workspace, tmp_path / "sandbox", {"CMKCTL_PLAN_SIGNING_SECRET": "cmkctl-plan-signing-key"})
    assert job.exported["CMKCTL_PLAN_SIGNING_KEY"] == "placeholder-value"  # what the fake vault answers
    assert json.loads((workspace / "plan.json").read_text())["signature"].startswith("hmac-sha256:")
    assert set(job.ran.values()) == {0}
    unsigned = run_plan_job(workspace_with(tmp_path / "unsigned", (EXAMPLES / "astra-serverless-azure.yaml")
                                           .read_text()), tmp_path / "unsigned" / "sandbox")
    assert "signature" not in json.loads((unsigned.workspace / "plan.json").read_text())
