"""What a running emulator offers its clients: where each plane answers, and the CA to trust."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoints:
    """Each plane's base URL on loopback, and the CA bundle that verifies the emulator's certificates."""

    arm: str
    graph: str
    astra: str
    confluent: str
    aws: str | None = None
    ca_bundle: str | None = None
