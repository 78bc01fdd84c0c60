"""Principals in the customer's Entra ID tenant: by application ID (created when absent) or object ID."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import AZUREAD_SERVICE_PRINCIPAL
from reconciler.manifest.model import KeySet, Principal, Region
from reconciler.plan.model import Resource, Unknown
from reconciler.plugins.base import ExpandContext, Plugin, PrincipalTarget
from reconciler.systems.regions import unknown_azure_locations


def service_principal_address(region: str, app_id: str) -> str:
    return f"azuread_service_principal.{region}.{app_id}"


def service_principal(context: ExpandContext, region: str, app_id: str, source: str,
                      depends_on: str = "") -> PrincipalTarget:
    """The service principal of `app_id`, shared by every assignment that names it.

    Principals live in the tenant, not a region: one first declared in another region keeps that
    region's address.
    """
    resource = next((r for r in context.shared.values()
                     if r.kind == "azuread_service_principal" and r.identity["appId"] == app_id), None)
    if resource is None:
        resource = context.share(Resource(
            address=service_principal_address(region, app_id),
            kind="azuread_service_principal",
            region=region,
            identity={"appId": app_id},
            depends_on=(depends_on,) if depends_on else (),
            source=source,
        ))
    return PrincipalTarget(f"sp-{app_id}", Unknown(resource.address, "objectId"), resource.address)


class AzureAd(Plugin):
    name = "azure-ad"
    principal_kinds = frozenset({"servicePrincipal", "objectId"})
    kinds = (AZUREAD_SERVICE_PRINCIPAL,)

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        # The Azure plug-in every Azure region's vaults and principals go through checks their names.
        return unknown_azure_locations(key_set)

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        if principal.kind == "objectId":
            return [PrincipalTarget(f"object-{principal.value}", principal.value)]
        return [service_principal(context, region.name, principal.value, source)]
