"""A region's `accessPolicies`: key permissions granted through a vault's access policy.

Access policies are the authorization model of vaults that do not use Azure RBAC
(`authorization: accessPolicies`); the Cassandra procedure grants get, wrapKey and unwrapKey this
way. Any system's principal may appear, so this is core, not a system's.
"""

from __future__ import annotations

from typing import Any

from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import AccessPolicy, KeySet, Principal
from reconciler.manifest.yamlsource import JsonPath


def access_policies(context: ResolveContext, region: str, path: JsonPath,
                    raw: dict[str, Any]) -> tuple[AccessPolicy, ...]:
    return tuple(_access_policy(context, region, (*path, "accessPolicies", index), entry)
                 for index, entry in enumerate(raw.get("accessPolicies", [])))


def _access_policy(context: ResolveContext, region: str, path: JsonPath, raw: dict[str, Any]) -> AccessPolicy:
    kind, value = next(iter(raw["principal"].items()))
    # The schema's enum spells each permission as ARM does; duplicates are refused there.
    permissions = tuple(raw["keys"])
    return AccessPolicy(region, raw["vault"], Principal(kind, value), permissions, context.source(path))


def check_access_policy_references(context: ResolveContext, key_set: KeySet) -> None:
    for region in key_set.regions:
        for policy in region.access_policies:
            if region.vault(policy.vault) is not None:
                continue
            elsewhere = next((v for r in key_set.regions for v in r.vaults if v.name == policy.vault), None)
            if elsewhere is None:
                context.problem(policy.source, "vault", f"no vault {policy.vault!r} is declared in region "
                                f"{region.name!r}", "E-REFERENCE")
            else:
                context.problem(policy.source, "vault", f"vault {policy.vault!r} is in region {elsewhere.region!r}; "
                                f"an access policy in {region.name!r} must use a vault of the same region",
                                "R-SAME-REGION")
