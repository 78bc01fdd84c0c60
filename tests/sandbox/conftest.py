"""A running sandbox per test, and an httpx client that trusts its CA and sends a token it issued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cmkctl_sandbox import Sandbox, realism
from tests.emulated import http_client

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = "rg-cmk"
API = {"api-version": "2026-05-15"}


def vault_path(name: str, rg: str = RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"


def vault_body(tenant_id: str, **properties: object) -> dict[str, object]:
    return {
        "location": "eastus",
        "properties": {"tenantId": tenant_id, "sku": {"family": "A", "name": "standard"}, **properties},
    }


def client_for(sandbox: Sandbox) -> httpx.Client:
    """A client of the emulator's port, presenting the credentials it issued for each plane."""
    return http_client(sandbox)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    # One request at a time, each rule on its own: the lags of the emulator's time are off here, but
    # those a test names with `@pytest.mark.lags(NAME=SECONDS)` (test_sandbox_realism.py tests the defaults).
    marker = request.node.get_closest_marker("lags")
    lags = {**realism.OFF, **(marker.kwargs if marker else {})}
    with Sandbox(tmp_path / "sandbox", realism=lags) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox) as http:
        yield http
