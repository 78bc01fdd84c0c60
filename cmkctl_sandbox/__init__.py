"""A local emulator of the control planes cmkctl talks to: ARM, Key Vault's data plane, Graph, Astra and
Confluent over HTTPS on loopback, AWS KMS and STS through moto.

    with Sandbox(directory) as sandbox:
        sandbox.endpoints   # point the real SDK clients here
        sandbox.state       # what the "cloud" now holds
        sandbox.calls()     # every request made, in order

See README.md in this package for the state and world.yaml layouts.

The names below load on first use: a run against a served sandbox reads only
`cmkctl_sandbox.served`, and must not pay for the emulator (trustme, every plane) at start.

Imports nothing of cmkctl (an import-linter contract): it stands for the clouds, not for the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmkctl_sandbox.errors import SandboxError, WorldError
    from cmkctl_sandbox.faults import FaultInjector
    from cmkctl_sandbox.session import Sandbox
    from cmkctl_sandbox.world import load_state

__all__ = ["FaultInjector", "Sandbox", "SandboxError", "WorldError", "load_state"]

_HOMES = {"FaultInjector": "faults", "Sandbox": "session", "SandboxError": "errors", "WorldError": "errors",
          "load_state": "world"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cmkctl_sandbox.extra import needs_extra

    with needs_extra():
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
