"""The health rules, one object at a time: pure functions over a step as the plan read it."""

from __future__ import annotations

from typing import Any

from reconciler.plan.health import DAY, Clock, Status, evaluate, step_findings
from reconciler.plan.model import Action, AttributeChange, Plan, Step
from reconciler.systems import PLUGINS

NOW = 1_900_000_000
CLOCK = Clock(NOW, expiry_warning_days=30)


def step(kind: str, live: dict[str, Any], *, action: Action = Action.NOOP, address: str = "",
         attributes: dict[str, Any] | None = None, changes: tuple[AttributeChange, ...] = (),
         depends_on: tuple[str, ...] = ()) -> Step:
    return Step(address or f"{kind}.eastus.x", kind, "eastus", action, {}, attributes or {}, changes=changes,
                depends_on=depends_on, live=live)


def statuses(found: Step, unread: dict[str, str] | None = None) -> list[tuple[Status, str]]:
    return [(f.status, f.reason) for f in step_findings(found, unread or {}, CLOCK, PLUGINS.health)]


def test_a_vault_without_purge_protection_or_soft_delete_is_broken() -> None:
    healthy = {"enablePurgeProtection": True, "enableSoftDelete": True}
    assert statuses(step("azure_vault", healthy)) == []
    assert [s for s, _ in statuses(step("azure_vault", {**healthy, "enablePurgeProtection": False}))] == [Status.BROKEN]
    assert statuses(step("azure_vault", {**healthy, "enableSoftDelete": False})) == [
        (Status.BROKEN, "soft delete is off (enableSoftDelete: false)")]


def test_a_key_not_yet_valid_is_broken_and_one_expiring_beyond_the_warning_is_healthy() -> None:
    assert [s for s, _ in statuses(step("azure_key", {"enabled": True, "notBefore": NOW + 60}))] == [Status.BROKEN]
    assert statuses(step("azure_key", {"enabled": True, "expires": NOW + 31 * DAY})) == []
    assert [s for s, _ in statuses(step("azure_key", {"enabled": True, "expires": NOW + 29 * DAY}))] == [
        Status.WARNING]


def test_a_kms_key_without_rotation_warns_and_without_its_statement_breaks() -> None:
    live = {"keyState": "Enabled", "enableKeyRotation": False}
    assert statuses(step("aws_kms_key", live, attributes={"enableKeyRotation": True})) == [
        (Status.WARNING, "automatic key rotation is off (KeyRotationEnabled: false)")]
    lost = AttributeChange("policy[Allow an external account to use this KMS key]", None, {"Sid": "..."})
    found = statuses(step("aws_kms_key", {"keyState": "Enabled", "enableKeyRotation": True},
                          attributes={"enableKeyRotation": True}, changes=(lost,)))
    assert found == [(Status.BROKEN, "the key policy no longer holds the statement "
                                     "'Allow an external account to use this KMS key' as declared")]
    assert statuses(step("aws_kms_key", {"keyState": "Disabled"})) == [
        (Status.BROKEN, "KeyState is Disabled, not Enabled")]


def test_an_access_policy_missing_a_permission_is_broken() -> None:
    found = step("azure_access_policy", {"keyPermissions": {"get": True, "wrapKey": True}},
                 attributes={"keyPermissions": {"get": True, "wrapKey": True, "unwrapKey": True}})
    assert statuses(found) == [(Status.BROKEN, "the access policy lacks key permissions unwrapKey")]


def test_a_data_center_on_an_older_key_version_warns_and_a_failed_one_breaks() -> None:
    moved = AttributeChange("managedDiskCustomerKeyUri", "https://v.vault.azure.net/keys/k/1",
                            "https://v.vault.azure.net/keys/k/2")
    assert [s for s, _ in statuses(step("cassandra_data_center", {"provisioningState": "Succeeded"},
                                        action=Action.UPDATE, changes=(moved,)))] == [Status.WARNING]
    assert statuses(step("cassandra_data_center", {"provisioningState": "Failed"})) == [
        (Status.BROKEN, "provisioningState is Failed")]


def test_a_path_is_as_bad_as_its_worst_link_and_a_used_confluent_key_is_on_its_clusters_path() -> None:
    key = step("azure_key", {"enabled": False}, address="azure_key.eastus.v/k")
    byok = step("confluent_byok_key", {"validationPhase": "VALID", "state": "IN_USE"},
                address="confluent_byok_key.eastus.v/k", depends_on=(key.address,))
    cluster = step("confluent_cluster", {"phase": "PROVISIONED"}, address="confluent_cluster.eastus.c",
                   depends_on=(byok.address,))
    health = evaluate(Plan("ks", (key, byok, cluster)), {}, CLOCK, PLUGINS.health)
    (path,) = health.paths
    assert path.consumer == cluster.address and path.status is Status.BROKEN
    assert [f.address for f in path.findings] == [key.address]


def test_an_unread_object_breaks_the_paths_through_it() -> None:
    found = step("aws_kms_key", {}, action=Action.CREATE)
    assert statuses(found, {found.address: "throttled"}) == [(Status.BROKEN, "could not be read: throttled")]
