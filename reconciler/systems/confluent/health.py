"""How a health check judges Confluent's objects on a key path."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.plan.health import Clock, Finding, HealthRules, Status
from reconciler.plan.model import Step

# Confluent's BYOK key states in which a cluster can use the key (byok/v1 Key.state).
USABLE_STATES = frozenset({"AVAILABLE", "IN_USE"})
# A firewalled vault must let trusted Microsoft services through (Confluent's "If you have network
# restrictions"): closed both ways, the path is broken.
SERVICE = "Confluent Cloud"


def _confluent_key(step: Step, clock: Clock) -> Iterable[Finding]:
    live = step.live
    phase, message = live.get("validationPhase"), live.get("validationMessage") or ""
    if phase == "INVALID":
        yield Finding(step.address, Status.BROKEN, f"Confluent reports validation.phase INVALID"
                                                   f"{': ' + message if message else ''}")
    elif phase != "VALID":
        yield Finding(step.address, Status.WARNING, f"Confluent reports validation.phase {phase}")
    if live.get("state") not in USABLE_STATES:
        yield Finding(step.address, Status.BROKEN, f"Confluent reports the key's state {live.get('state')}")


CONFLUENT_HEALTH = HealthRules(
    checks={"confluent_byok_key": _confluent_key},
    # A key a cluster uses is on the cluster's path.
    consumers=frozenset({"confluent_byok_key", "confluent_cluster"}),
    trusted_services={"confluent_byok_key": SERVICE, "confluent_cluster": SERVICE},
)
