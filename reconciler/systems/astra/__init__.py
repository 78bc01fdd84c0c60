"""Astra DB: provider-ID lookups, a principal per provider ID, and the customer-key registration.

Serverless and Managed Clusters differ only in the API path Astra serves them on, so one system
covers both (`product`), and the cloud of the region decides the provider: in Azure a provider ID
is an application (a service principal is granted a role on the vault), in AWS an account (its
`role/creator` is named in the KMS key policy). The vault rules apply to Azure regions only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.roles import CRYPTO_SERVICE_ENCRYPTION_USER, role_guid
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.keyref import KeyReference, find_key, parse_key_reference
from reconciler.manifest.model import KeySet, KmsKey, Principal, Region, Registration, RoleAssignment, Source
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.model import Declared, Notice, Plan, Resource, Step, Unknown
from reconciler.plugins.addresses import key_address
from reconciler.plugins.base import ExpandContext, ExportPart, ExportRegion, PlanRun, Plugin, PrincipalTarget, Refusal
from reconciler.providers.plumbing import PlaneHandlers, Plumbing
from reconciler.systems import azure_ad
from reconciler.systems.astra import export, handlers
from reconciler.systems.astra.health import ASTRA_HEALTH
from reconciler.systems.astra.kinds import ASTRA_PROVIDER_ACCOUNTS, ASTRA_REGISTRATION
from reconciler.systems.astra.planning import database_notices, region_refusal, unmanaged_registrations
from reconciler.systems.astra.schema import FRAGMENT
from reconciler.systems.aws_kms import kms_key_address


@dataclass(frozen=True)
class AstraRegistration(Registration):
    product: str
    key: KeyReference


def lookup_address(region: str, product: str) -> str:
    return f"astra_provider_accounts.{region}.{product}"


def _registered(key_set: KeySet, cloud: str = "azure") -> Iterator[tuple[Region, AstraRegistration]]:
    return ((region, r) for region, r in key_set.registered(AstraRegistration) if region.cloud == cloud)


def _all_registered(key_set: KeySet) -> Iterator[tuple[Region, AstraRegistration]]:
    for region in key_set.regions:
        for registration in region.registrations_of(AstraRegistration):
            yield region, registration


class Astra(Plugin):
    schema_fragment = FRAGMENT
    name = "astra"
    registration_key = "astra"
    principal_kinds = frozenset({"astra"})
    kinds = (ASTRA_PROVIDER_ACCOUNTS, ASTRA_REGISTRATION)
    health = ASTRA_HEALTH
    endpoint_variables = MappingProxyType({"astra": "CMKCTL_ASTRA_ENDPOINT"})
    plane_names = MappingProxyType({"astra": "the Astra DevOps API"})
    credential_variables = MappingProxyType({"astra_token": "ASTRA_DB_APPLICATION_TOKEN"})

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        source = context.source(path)
        return AstraRegistration(region, source, raw["product"],
                                 parse_key_reference(context, source, "key", raw["key"], "Astra"))

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None:
        for registration in region.registrations_of(AstraRegistration):
            if region.cloud == "aws":
                find_kms_key(context, key_set, region, registration.key.name, registration.source, "Astra")
            else:
                find_key(context, key_set, region, registration.key, registration.source, "key", "Astra")

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        for check in (_organization_declared, _vault_uses_rbac, _vault_bypass, _key_is_rsa, _one_key_per_region,
                      _principals_are_granted, _key_policy_allows_astra):
            yield from check(key_set)

    def lookups(self, key_set: KeySet) -> list[Resource]:
        wanted: dict[str, Resource] = {}
        for region in key_set.regions:
            products = {a.principal.value for a in region.role_assignments if a.principal.kind == "astra"}
            products |= {r.product for r in region.registrations_of(AstraRegistration)}
            products |= {p.value for k in region.kms_keys for p in k.allow if p.kind == "astra"}
            for product in sorted(products):
                address = lookup_address(region.name, product)
                wanted[address] = Resource(
                    address=address, kind="astra_provider_accounts", region=region.name,
                    identity={"product": product, "cloud": region.cloud, "region": region.name},
                    source=str(region.source),
                )
        return list(wanted.values())

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        lookup = lookup_address(region.name, principal.value)
        provider_ids = context.lookups.get(lookup, {}).get("providerIds", ())
        if region.cloud == "aws":
            # An AWS provider ID is an account: Astra acts as its role/creator, named in the key policy.
            return [PrincipalTarget(f"astra-{principal.value}-{pid}", export.creator_arn(pid), lookup,
                                    principal_type="AWS") for pid in provider_ids]
        targets = []
        for app_id in provider_ids:
            target = azure_ad.service_principal(context, region.name, app_id, source, depends_on=lookup)
            targets.append(PrincipalTarget(f"astra-{principal.value}-{app_id}", target.principal_id,
                                           target.depends_on))
        return targets

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        return [_registration(context, region, r) for r in region.registrations_of(AstraRegistration)]

    def refusal(self, resource: Resource, live: Mapping[str, Any]) -> Refusal | None:
        return region_refusal(resource, live)

    def plan_notices(self, steps: Sequence[Step], run: PlanRun) -> list[Notice]:
        return database_notices(steps, run)

    def unmanaged(self, key_set: KeySet, plan: Plan, lists: Any, ours: Mapping[str, Any]) -> list[Notice]:
        return unmanaged_registrations(key_set, plan, lists, ours)

    def export_azure(self, region: ExportRegion) -> ExportPart:
        return export.export_azure(region)

    def export_accounts(self, key_set: KeySet) -> Mapping[str, Any]:
        organization = key_set.accounts.of("astra", "organizationId")
        return {"astra": {"organizationId": organization}} if organization else {}

    def emulator_accounts(self, key_set: KeySet) -> Mapping[str, Any]:
        return {"organization_id": key_set.accounts.of("astra", "organizationId")}

    def kms_principals(self, region: ExportRegion) -> Mapping[str, list[dict[str, str]]]:
        return export.kms_principals(region)

    def export_aws(self, region: ExportRegion, aliases: Mapping[str, str], skipped: list[str]) -> list[dict[str, Any]]:
        return export.export_aws(region, aliases, skipped)

    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers:
        return handlers.build(plumbing)


def _registration(context: ExpandContext, region: Region, registration: AstraRegistration) -> Resource:
    if region.cloud == "aws":
        return _kms_registration(context, region, registration)
    key = region.key(registration.key.name)
    assert key is not None, "the loader resolved every registration's key"
    key_at = key_address(region.name, key.vault, key.name)
    # Registration is irreversible, so it waits until Astra's principals can use the key.
    grants = context.grants_to(region.name, key.vault, Principal("astra", registration.product))
    return Resource(
        address=f"astra_registration.{region.name}.{registration.product}",
        kind="astra_registration",
        region=region.name,
        identity={"organizationId": context.key_set.accounts.of("astra", "organizationId"),
                  "product": registration.product, "cloud": region.cloud, "region": region.name},
        attributes={"keyId": Unknown(key_at, "keyUri")},
        depends_on=(key_at, lookup_address(region.name, registration.product), *grants),
        source=str(registration.source),
        declared={"keyId": Declared("key", registration.key.name, registration.source.location("key"))},
    )


def _kms_registration(context: ExpandContext, region: Region, registration: AstraRegistration) -> Resource:
    # The key resource carries its policy: once it is applied, Astra's roles can use the key.
    key_at = kms_key_address(region.name, registration.key.name)
    return Resource(
        address=f"astra_registration.{region.name}.{registration.product}",
        kind="astra_registration",
        region=region.name,
        identity={"organizationId": context.key_set.accounts.of("astra", "organizationId"),
                  "product": registration.product, "cloud": region.cloud, "region": region.name},
        attributes={"keyId": Unknown(key_at, "arn")},
        depends_on=(key_at, lookup_address(region.name, registration.product)),
        source=str(registration.source),
        declared={"keyId": Declared("key", registration.key.name, registration.source.location("key"))},
    )


def find_kms_key(context: ResolveContext, key_set: KeySet, region: Region, alias: str, source: Source,
                 consumer: str) -> KmsKey | None:
    """The KMS key `alias` names in `region`; reports why when there is none."""
    key = region.kms_key(alias)
    if key is not None:
        return key
    if not alias.startswith("alias/"):
        context.problem(source, "key", f"{alias!r} is not a KMS alias: name a key declared in region "
                        f"{region.name!r} by its alias (alias/NAME)", "E-REFERENCE")
        return None
    elsewhere = next((r for r in key_set.regions if r.kms_key(alias) is not None), None)
    if elsewhere is None:
        context.problem(source, "key", f"no KMS key {alias!r} is declared in region {region.name!r}", "E-REFERENCE")
    else:
        context.problem(source, "key", f"key {alias!r} is in region {elsewhere.name!r}; {consumer} needs the key "
                        f"in the region it encrypts ({region.name!r})", "R-SAME-REGION")
    return None


def _vault_of(region: Region, registration: AstraRegistration) -> Any:
    key = region.key(registration.key.name)
    return region.vault(key.vault) if key else None


def _organization_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: cmkctl registers keys only in the organization the manifest names."""
    if any(True for _ in _all_registered(key_set)) and key_set.accounts.of("astra", "organizationId") is None:
        yield key_set.source.at("", "Astra registrations are declared but accounts.astra.organizationId is "
                                "missing", "R-ACCOUNTS")


def _vault_uses_rbac(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-RBAC: Astra's service principals are granted a role, so the vault must use Azure RBAC."""
    for region, registration in _registered(key_set):
        vault = _vault_of(region, registration)
        if vault is not None and vault.authorization != "rbac":
            yield vault.source.at("authorization", f"vault {vault.name!r} holds a key registered with Astra, which "
                                  "requires Azure RBAC authorization (authorization: rbac)", "R-ASTRA-RBAC")


def _vault_bypass(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-BYPASS: the procedure requires 'Allow trusted Microsoft services to bypass this firewall'."""
    for region, registration in _registered(key_set):
        vault = _vault_of(region, registration)
        if vault is not None and not vault.trusted_services_bypass:
            yield vault.source.at("trustedServicesBypass", f"vault {vault.name!r} holds a key registered with "
                                  "Astra: trusted Microsoft services must bypass its firewall "
                                  "(trustedServicesBypass: true)", "R-ASTRA-BYPASS")


# The Azure procedure's own words, quoted by the rules that enforce them.
SOFTWARE_KEY_STEP = '"Create a software-protected key in your key vault."'
VAULT_GRANT_STEP = '"Assign the Key Vault Crypto Service Encryption User role to your key vault."'


def _key_is_rsa(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-KEY-TYPE: Astra's Azure procedure asks for a software-protected key, and Astra wraps with RSA."""
    for region, registration in _registered(key_set):
        key = region.key(registration.key.name)
        if key is not None and key.type != "RSA":
            yield key.source.at("type", f"key {key.name!r} is {key.type}; Astra's Azure procedure says "
                                f"{SOFTWARE_KEY_STEP} Astra needs a software-protected RSA key (type: RSA)",
                                "R-ASTRA-KEY-TYPE")


def _one_key_per_region(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-ONE-KEY: Astra accepts one customer key per product, provider and region."""
    seen: dict[tuple[str, str], AstraRegistration] = {}
    for region, registration in _all_registered(key_set):
        first = seen.setdefault((registration.product, region.name), registration)
        if first is not registration:
            yield registration.source.at("key", f"a second {registration.product} key for region {region.name!r} "
                                         f"(first at line {first.source.line}): Astra takes one key per "
                                         "provider and region", "R-ASTRA-ONE-KEY")


def _principals_are_granted(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-GRANT: each Astra provider ID needs the encryption role on the registered key's vault.

    On the vault itself, as the procedure assigns it: a grant on the key alone does not count.
    """
    for region, registration in _registered(key_set):
        key = region.key(registration.key.name)
        if key is None:
            continue
        grants = [a for a in _astra_encryption_grants(region, registration) if a.vault == key.vault]
        if any(a.key is None for a in grants):
            continue
        wanted = (f"add a role assignment of {CRYPTO_SERVICE_ENCRYPTION_USER!r} on vault {key.vault!r} for "
                  f"principal {{astra: {registration.product}}}")
        on_key = next((a for a in grants if a.key is not None), None)
        if on_key is None:
            yield registration.source.at("key", f"Astra's {registration.product} provider IDs cannot use key "
                                         f"{key.name!r}: {wanted}", "R-ASTRA-GRANT")
        else:
            yield on_key.source.at("scope", f"this role assignment is scoped to key {on_key.key!r}; Astra's Azure "
                                   f"procedure says {VAULT_GRANT_STEP} Scope it to the vault (vault: {key.vault})",
                                   "R-ASTRA-GRANT")


def _astra_encryption_grants(region: Region, registration: AstraRegistration) -> list[RoleAssignment]:
    wanted, principal = role_guid(CRYPTO_SERVICE_ENCRYPTION_USER), Principal("astra", registration.product)
    return [a for a in region.role_assignments if a.role.guid == wanted and a.principal == principal]


def _key_policy_allows_astra(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-GRANT (AWS): the registered key's policy must let Astra's creator roles use it."""
    for region, registration in _registered(key_set, "aws"):
        key = region.kms_key(registration.key.name)
        if key is not None and Principal("astra", registration.product) not in key.allow:
            yield registration.source.at(
                "key", f"Astra's {registration.product} provider accounts cannot use {key.alias}: add "
                f"{{astra: {registration.product}}} to its policy.allow, so that the key policy names their "
                "role/creator", "R-ASTRA-GRANT")
