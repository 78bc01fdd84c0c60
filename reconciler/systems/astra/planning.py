"""Astra's planning hooks: a region Astra has not enabled is refused, databases already deployed are told of,
and registrations no longer declared are reported."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.manifest.model import KeySet
from reconciler.plan.model import Action, Notice, Plan, Resource, Step
from reconciler.plugins.base import PlanRun, Refusal, unmanaged_notice, vault_of_key
from reconciler.systems.astra.kinds import ASTRA_PROVIDER_ACCOUNTS, ASTRA_REGISTRATION

REGION_NOT_ENABLED = "R-ASTRA-REGION"


def region_refusal(resource: Resource, live: Mapping[str, Any]) -> Refusal | None:
    """Astra lists no provider ID for a region it has not enabled for the organization."""
    if resource.kind != ASTRA_PROVIDER_ACCOUNTS.kind or live.get("providerIds", True):
        return None
    return Refusal(f"Astra lists no {resource.identity['product']} provider ID for {resource.identity['cloud']} "
                   f"region {resource.region}: the region is not enabled for this organization (ask DataStax to "
                   f"unlock it; declared at {resource.source})", REGION_NOT_ENABLED)


def database_notices(steps: Sequence[Step], run: PlanRun) -> list[Notice]:
    """Databases already deployed where a key is registered now keep their current key: say so."""
    from reconciler.providers.astra import RegistrationHandler

    registrations = run.handlers.get(ASTRA_REGISTRATION.kind)
    new_registrations = [s for s in steps if s.kind == ASTRA_REGISTRATION.kind and s.action is Action.CREATE
                         and s.address not in run.unread]
    if (not new_registrations or run.key_set.accounts.of("astra", "organizationId") is None
            or not isinstance(registrations, RegistrationHandler)):
        return []
    # One list of databases per region, each on its own: side by side, like the refresh's reads
    # (34 regions one after another were 3.4 s of a fleet's first plan).
    with ThreadPoolExecutor(max_workers=max(1, run.parallelism), thread_name_prefix="cmkctl-notice") as pool:
        found = list(pool.map(lambda step: list(_database_notice(step, registrations, run)), new_registrations))
    return [notice for notices in found for notice in notices]


def _database_notice(step: Step, registrations: Any, run: PlanRun) -> Iterable[Notice]:
    cloud, region = step.identity["cloud"], step.region
    databases = run.retry.call(lambda: registrations.databases(cloud, region), what="listing Astra databases")
    if databases:
        names = ", ".join(sorted(str(d.get("info", {}).get("name", d.get("id"))) for d in databases))
        yield Notice("W-ASTRA-EXISTING-DATABASES", region, f"{len(databases)} Astra database(s) already "
                     f"deployed in {cloud} {region} ({names}) keep their current key; the key registered "
                     "now protects only databases deployed after it")


PRODUCTS = ("serverless", "managed-clusters")


def unmanaged_registrations(key_set: KeySet, plan: Plan, lists: Any, ours: Mapping[str, Any]) -> list[Notice]:
    """Registrations of keys in the key set's vaults that the key set no longer declares (never removed)."""
    registered = {(s.identity.get("product"), s.identity.get("region")) for s in plan.steps
                  if s.kind == ASTRA_REGISTRATION.kind}
    found: list[Notice] = []
    if not key_set.accounts.of("astra", "organizationId"):
        return found
    for product in PRODUCTS:
        for entry in lists.astra_registrations(product):
            fields = {k.lower(): v for k, v in entry.items()}
            key_id, region = str(fields.get("keyid", "")), str(fields.get("region", ""))
            if vault_of_key(key_id, ours) is not None and (product, region) not in registered:
                found.append(unmanaged_notice(region, f"Astra {product} registration of {key_id} is no longer "
                                              "declared; cmkctl leaves it registered (only a support ticket "
                                              "removes it)"))
    return found
