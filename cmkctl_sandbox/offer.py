"""What a running emulator offers a client: where each plane answers, the CA to trust, the host
mapping for Key Vault's vaults, the credentials it issued, and its clock."""

from __future__ import annotations

from dataclasses import dataclass

from cmkctl_sandbox.clock import EmulatorClock
from cmkctl_sandbox.credentials import Issued


@dataclass(frozen=True)
class Endpoints:
    """Each plane's base URL on loopback, and DIR/ca.pem (for tools; a run trusts `Offer.ca_pem`)."""

    arm: str
    graph: str
    astra: str
    confluent: str
    aws: str | None = None
    ca_bundle: str | None = None


@dataclass(frozen=True, repr=False)
class Offer:
    endpoints: Endpoints
    # The CA that signed every certificate the emulator serves, as it was made (PEM).
    ca_pem: bytes
    # Where connections to `*.vault.azure.net` go: the emulator's loopback address and port.
    vault_address: tuple[str, int]
    issued: Issued
    clock: EmulatorClock
    aws_account_id: str | None = None

    def __repr__(self) -> str:
        return f"Offer(arm={self.endpoints.arm!r}, aws={self.endpoints.aws!r})"
