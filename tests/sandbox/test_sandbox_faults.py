"""The fault seam: an injector answers in the plane's place without touching the state."""

from __future__ import annotations

from pathlib import Path

from cmkctl_sandbox import Sandbox
from cmkctl_sandbox.wire import Reply, Request
from tests.sandbox.conftest import API, client_for, vault_body, vault_path


class ThrottleOnce:
    def __init__(self) -> None:
        self.fired = False

    def before(self, plane: str, request: Request) -> Reply | None:
        if self.fired or not request.mutating:
            return None
        self.fired = True
        return Reply(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "0"})


def test_injected_reply_is_recorded_and_changes_nothing(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", faults={"arm": ThrottleOnce()}) as sandbox, client_for(sandbox) as client:
        body = vault_body(sandbox.state["graph"]["tenantId"])
        throttled = client.put(vault_path("kv-fault"), params=API, json=body)
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "0"
        assert sandbox.state["arm"]["vaults"] == {}
        assert client.put(vault_path("kv-fault"), params=API, json=body).status_code == 200
        assert [c["status"] for c in sandbox.calls()] == [429, 200]
