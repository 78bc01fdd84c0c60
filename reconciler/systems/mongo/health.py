"""How a health check judges a Mongo vCore cluster on its key path."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.plan.health import Clock, Finding, HealthRules, Status, provisioned
from reconciler.plan.model import Step


def _mongo_cluster(step: Step, clock: Clock) -> Iterable[Finding]:
    yield from provisioned(step, clock)
    if any(change.name == "customerManagedKeyEncryption" for change in step.changes):
        url = (step.live.get("customerManagedKeyEncryption") or {}).get("keyEncryptionKeyUrl")
        yield Finding(step.address, Status.WARNING, f"the cluster's keyEncryptionKeyUrl is {url}, not the declared "
                                                    "key and identity")


MONGO_HEALTH = HealthRules(
    checks={"mongo_cluster": _mongo_cluster},
    consumers=frozenset({"mongo_cluster"}),
    # Cosmos DB's customer-key guide: a firewalled vault must let trusted Microsoft services through.
    trusted_services={"mongo_cluster": "Cosmos DB for MongoDB vCore"},
)
