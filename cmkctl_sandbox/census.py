"""How many objects of each kind the sandbox holds, named as plans name kinds.

The crash-safety test and the soak script compare this with the kinds of a converged plan: a
duplicate (two keys for one alias, a BYOK key registered twice) or an orphan (a KMS key without
its alias) shows as one more than declared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cmkctl_sandbox.wire import State


def census(state: State) -> Counter[str]:
    arm, graph = state.get("arm", {}), state.get("graph", {})
    vaults = arm.get("vaults", {}).values()
    found: Counter[str] = Counter({
        "azure_vault": len(vaults),
        "azure_key": sum(len(v.get("keys", {})) for v in vaults),
        "azure_access_policy": sum(len(v["resource"]["properties"].get("accessPolicies") or []) for v in vaults),
        "azure_role_assignment": len(arm.get("roleAssignments", {})),
        "azure_user_assigned_identity": len(arm.get("userAssignedIdentities", {})),
        "mongo_cluster": len(arm.get("mongoClusters", {})),
        "cassandra_cluster": len(arm.get("cassandraClusters", {})),
        "cassandra_data_center": sum(len(c.get("dataCenters", {})) for c in arm.get("cassandraClusters", {}).values()),
        # Managed identities' principals come with their identity or cluster; these are cmkctl's.
        "azuread_service_principal": sum(1 for sp in graph.get("servicePrincipals", {}).values()
                                         if sp.get("servicePrincipalType") != "ManagedIdentity"),
        "astra_registration": sum(len(keys) for keys in state.get("astra", {}).get("keys", {}).values()),
        "aws_kms_key": len(state.get("kms", {}).get("keys", [])),
        "confluent_byok_key": len(state.get("confluent", {}).get("keys", {})),
        "confluent_cluster": len(state.get("confluent", {}).get("clusters", {})),
    })
    return +found


def declared(plan_document: Mapping[str, Any]) -> Counter[str]:
    """The kinds of a plan's steps that stand for objects (lookups excluded)."""
    return Counter(s["kind"] for s in plan_document["steps"] if "read" not in s["actions"])


def discrepancies(expected: Counter[str], found: Counter[str]) -> Iterable[str]:
    for kind in sorted(set(expected) | set(found)):
        if expected[kind] != found[kind]:
            yield f"{kind}: declared {expected[kind]}, the sandbox holds {found[kind]}"
