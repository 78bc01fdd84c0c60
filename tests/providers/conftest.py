"""Fixtures for the provider contract tests: a fresh sandbox per test and the run's handlers."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest.model import Accounts
from reconciler.providers.base import Connection
from reconciler.providers.registry import Handlers, build_handlers
from reconciler.systems import PLUGINS
from tests.emulated import connection_to

from .canary import Recording, canary_issued

SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
RESOURCE_GROUP = "cmk-prod"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "world(doc): seed the sandbox with this world.yaml document")
    config.addinivalue_line("markers", "faults(by_plane): fault injectors for the sandbox, by plane name")


@pytest.fixture
def sandbox(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    from cmkctl_sandbox import Sandbox, realism

    marker = request.node.get_closest_marker("world")
    if marker is not None:
        # JSON is YAML: the sandbox seeds DIR/world.yaml over its default world.
        (tmp_path / "world.yaml").write_text(json.dumps(marker.args[0]))
    faults = request.node.get_closest_marker("faults")
    # A contract test calls a handler once, without the run's retry policy: the emulator's lags are
    # off but those the test names (`@pytest.mark.lags(NAME=SECONDS)`, tests/conftest.py).
    lags = request.node.get_closest_marker("lags")
    # The emulator issues canaries: every credential the handlers send is one no error text may show.
    with Sandbox(tmp_path, faults=faults.args[0] if faults else None, issued=canary_issued(),
                 realism={**realism.OFF, **(lags.kwargs if lags else {})}) as sb:
        yield sb


@pytest.fixture
def connection(sandbox: Any) -> Connection:
    issued = connection_to(sandbox)
    return dataclasses.replace(issued, azure_credential=lambda: Recording(sandbox.issued.azure_credential()))


@pytest.fixture
def handlers(sandbox: Any, connection: Connection) -> Iterator[Handlers]:
    organization = sandbox.state["astra"]["orgId"]
    with build_handlers(connection, Accounts(azure_subscription_id=SUBSCRIPTION,
                                             blocks={"astra": {"organizationId": organization}}), PLUGINS,
                        variables=os.environ) as built:  # the test sets a password as it goes
        yield built


@pytest.fixture
def tenant_id(sandbox: Any) -> str:
    tenant: str = sandbox.state["graph"]["tenantId"]
    return tenant
