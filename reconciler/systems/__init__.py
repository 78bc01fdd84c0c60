"""The systems cmkctl sets up, in one explicit table (no discovery).

Imports manifest data, the plan and core; no system imports this table (the expansion hands it down).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.core.kinds import CORE_KINDS, KindSpec
from reconciler.systems.access_policies import AccessPolicies
from reconciler.systems.astra import Astra
from reconciler.systems.aws_kms import AwsKms
from reconciler.systems.azure_ad import AzureAd
from reconciler.systems.base import System
from reconciler.systems.cassandra import Cassandra
from reconciler.systems.confluent import Confluent
from reconciler.systems.identities import Identities
from reconciler.systems.mongo import Mongo

SYSTEMS: tuple[System, ...] = (AzureAd(), Astra(), AwsKms(), Confluent(), AccessPolicies(), Cassandra(),
                                Identities(), Mongo())


def by_registration_key() -> Mapping[str, System]:
    return {s.registration_key: s for s in SYSTEMS if s.registration_key}


def by_principal_kind() -> Mapping[str, System]:
    return {kind: s for s in SYSTEMS for kind in s.principal_kinds}


KINDS: Mapping[str, KindSpec] = {spec.kind: spec for spec in (*CORE_KINDS, *(k for s in SYSTEMS for k in s.kinds))}
