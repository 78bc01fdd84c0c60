"""`cmkctl sandbox serve DIR`: plan and apply connect to it, and no second sandbox starts on its state."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cmkctl_sandbox import Sandbox
from cmkctl_sandbox.served import ENDPOINTS_FILE, SandboxBusy
from cmkctl_sandbox.state import read_calls
from tests.conftest import EXAMPLES, ROOT, Result

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
SERVE = [sys.executable, "-m", "reconciler", "sandbox", "serve"]


def wait_for_endpoints(directory: Path, server: subprocess.Popen[str], seconds: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while not (directory / ENDPOINTS_FILE).exists():
        assert server.poll() is None, server.communicate()
        assert time.monotonic() < deadline, f"no {ENDPOINTS_FILE} within {seconds}s"
        time.sleep(0.02)
    document: dict[str, object] = json.loads((directory / ENDPOINTS_FILE).read_text())
    return document


def stop(server: subprocess.Popen[str]) -> tuple[str, str]:
    server.terminate()
    try:
        return server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.communicate(timeout=30)


def test_plan_uses_a_served_sandbox_and_a_second_server_is_refused(cmkctl: Callable[..., Result],
                                                                   tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    server = subprocess.Popen([*SERVE, str(sandbox), "-f", str(EXAMPLE)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        published = wait_for_endpoints(sandbox, server)
        assert published["pid"] == server.pid
        assert published["awsAccountId"] is None  # the example has no AWS region: no moto
        assert str(published["endpoints"]["arm"]).startswith("https://127.0.0.1:")  # type: ignore[index]

        planned = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox)
        assert planned.code == 0, planned.out + planned.err
        assert "to create" in planned.out
        assert read_calls(sandbox)  # the server answered (and journalled) the plan's reads

        second = subprocess.run([*SERVE, str(sandbox)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"another sandbox already serves {sandbox}" in second.stderr
        assert f"(pid {server.pid})" in second.stderr
        with pytest.raises(SandboxBusy):  # nor in process, whatever starts it
            Sandbox(sandbox).start()
        assert json.loads((sandbox / ENDPOINTS_FILE).read_text()) == published  # untouched by the refusals
    finally:
        out, err = stop(server)
    assert server.returncode == 0, out + err
    assert f"endpoints in {sandbox / ENDPOINTS_FILE}" in out
    assert not (sandbox / ENDPOINTS_FILE).exists()  # withdrawn: the next run starts its own sandbox again
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox).code == 0
