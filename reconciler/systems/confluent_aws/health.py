"""How a health check judges the objects of a Confluent key path on AWS KMS."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core import kms_policy
from reconciler.plan.health import Check, Clock, Finding, HealthRules, Status
from reconciler.plan.model import Step
from reconciler.systems.confluent.health import CONFLUENT_HEALTH


def _policy_lets_confluent_in(sid: str) -> Check:
    attribute = kms_policy.attribute_name(sid)

    def check(step: Step, clock: Clock) -> Iterable[Finding]:
        if attribute not in step.live:
            yield Finding(step.address, Status.BROKEN, f"the key policy has no statement {sid!r}: Confluent's roles "
                          "cannot use the key")

    return check


def confluent_aws_health(sid: str) -> HealthRules:
    return HealthRules(
        # A BYOK key is judged as on Azure: Confluent's validation and the key's state.
        checks={"confluent_aws_byok_key": CONFLUENT_HEALTH.checks["confluent_byok_key"],
                "confluent_aws_key_policy": _policy_lets_confluent_in(sid)},
        consumers=frozenset({"confluent_aws_byok_key", "confluent_aws_cluster"}),
    )
