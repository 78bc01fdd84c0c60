"""How a health check judges Cassandra's clusters and data centers on a key path."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.plan.health import Clock, Finding, HealthRules, Status, provisioned
from reconciler.plan.model import Step


def _data_center(step: Step, clock: Clock) -> Iterable[Finding]:
    yield from provisioned(step, clock)
    for change in step.changes:
        if change.name in ("managedDiskCustomerKeyUri", "backupStorageCustomerKeyUri"):
            yield Finding(step.address, Status.WARNING, f"{change.name} is {change.before}, not {change.after} "
                                                        "(the next apply moves it)")


CASSANDRA_HEALTH = HealthRules(
    checks={"cassandra_cluster": provisioned, "cassandra_data_center": _data_center},
    consumers=frozenset({"cassandra_data_center"}),
    # Cosmos DB's customer-key guide: a firewalled vault must let trusted Microsoft services through.
    trusted_services={"cassandra_data_center": "Managed Instance for Apache Cassandra"},
)
