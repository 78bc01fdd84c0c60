"""How a health check judges Astra's objects on a key path."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.plan.health import Clock, Finding, HealthRules, Status
from reconciler.plan.model import Step
from reconciler.systems.astra.kinds import ASTRA_PROVIDER_ACCOUNTS, ASTRA_REGISTRATION


def _registration(step: Step, clock: Clock) -> Iterable[Finding]:
    # A declared key not yet known (its own read failed) is that read's finding, not Astra's.
    if any(c.name == "keyId" and isinstance(c.after, str) for c in step.changes):
        yield Finding(step.address, Status.BROKEN, f"Astra holds another key for the region: "
                                                   f"{step.live.get('keyId')}")


def _missing_registration(step: Step) -> str:
    return (f"Astra holds no {step.identity.get('product')} key for {step.identity.get('cloud')} region "
            f"{step.region}: the registration is gone")


def _provider_accounts(step: Step, clock: Clock) -> Iterable[Finding]:
    if not step.live.get("providerIds"):
        yield Finding(step.address, Status.BROKEN, f"Astra lists no provider ID for region {step.region}")


ASTRA_HEALTH = HealthRules(
    checks={ASTRA_REGISTRATION.kind: _registration},
    lookups={ASTRA_PROVIDER_ACCOUNTS.kind: _provider_accounts},
    missing={ASTRA_REGISTRATION.kind: _missing_registration},
    consumers=frozenset({ASTRA_REGISTRATION.kind}),
)
