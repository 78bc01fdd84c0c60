"""Vendor requirements as small named checks. Each returns diagnostics; none touches a cloud.

Rule IDs are stable: they appear in messages and documentation, so users can search for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from reconciler.errors import Diagnostic
from reconciler.manifest.model import AstraRegistration, KeySet, Region
from reconciler.roles import CRYPTO_SERVICE_ENCRYPTION_USER, role_guid

Rule = Callable[[KeySet], Iterator[Diagnostic]]


def _astra_keys(key_set: KeySet) -> Iterator[tuple[Region, AstraRegistration]]:
    for region in key_set.regions:
        for registration in region.astra_registrations:
            yield region, registration


def astra_vault_uses_rbac(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-RBAC: Astra's service principals are granted a role, so the vault must use Azure RBAC."""
    for region, registration in _astra_keys(key_set):
        key = region.key(registration.key)
        vault = region.vault(key.vault) if key else None
        if vault is not None and vault.authorization != "rbac":
            yield vault.source.at("authorization", f"vault {vault.name!r} holds a key registered with Astra, which "
                                  "requires Azure RBAC authorization (authorization: rbac)", "R-ASTRA-RBAC")


def astra_vault_bypass(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-BYPASS: the procedure requires 'Allow trusted Microsoft services to bypass this firewall'."""
    for region, registration in _astra_keys(key_set):
        key = region.key(registration.key)
        vault = region.vault(key.vault) if key else None
        if vault is not None and not vault.trusted_services_bypass:
            yield vault.source.at("trustedServicesBypass", f"vault {vault.name!r} holds a key registered with "
                                  "Astra: trusted Microsoft services must bypass its firewall "
                                  "(trustedServicesBypass: true)", "R-ASTRA-BYPASS")


def astra_key_is_rsa(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-KEY-TYPE: Astra wraps data keys with an RSA key."""
    for region, registration in _astra_keys(key_set):
        key = region.key(registration.key)
        if key is not None and not key.is_rsa:
            yield key.source.at("type", f"key {key.name!r} is {key.type}; Astra needs an RSA key "
                                "(software-protected RSA, or RSA-HSM in a premium vault)", "R-ASTRA-KEY-TYPE")


def hsm_key_needs_premium_vault(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-HSM-SKU: HSM-protected keys exist only in premium vaults."""
    for region in key_set.regions:
        for key in region.keys:
            vault = region.vault(key.vault)
            if key.type.endswith("-HSM") and vault is not None and vault.sku != "premium":
                yield key.source.at("type", f"an {key.type} key needs a premium vault; vault {vault.name!r} is "
                                    f"{vault.sku}", "R-HSM-SKU")


def one_astra_key_per_region(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-ONE-KEY: Astra accepts one customer key per product, provider and region."""
    seen: dict[tuple[str, str], AstraRegistration] = {}
    for region, registration in _astra_keys(key_set):
        slot = (registration.product, region.name)
        first = seen.setdefault(slot, registration)
        if first is not registration:
            yield registration.source.at("key", f"a second {registration.product} key for region {region.name!r} "
                                         f"(first at line {first.source.line}): Astra takes one key per "
                                         "provider and region", "R-ASTRA-ONE-KEY")


def astra_principals_are_granted(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ASTRA-GRANT: each Astra provider ID needs the encryption role on the registered key's vault."""
    wanted = role_guid(CRYPTO_SERVICE_ENCRYPTION_USER)
    for region, registration in _astra_keys(key_set):
        key = region.key(registration.key)
        if key is None:
            continue
        granted = any(
            a.role.guid == wanted and a.vault == key.vault and a.key in (None, key.name)
            and a.principal.kind == "astra" and a.principal.value == registration.product
            for a in region.role_assignments
        )
        if not granted:
            yield registration.source.at(
                "key", f"Astra's {registration.product} provider IDs cannot use key {key.name!r}: add a role "
                f"assignment of {CRYPTO_SERVICE_ENCRYPTION_USER!r} on vault {key.vault!r} for principal "
                f"{{astra: {registration.product}}}", "R-ASTRA-GRANT")


def azure_accounts_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: cmkctl acts only in accounts the manifest names."""
    uses_azure = any(r.cloud == "azure" and (r.vaults or r.keys or r.role_assignments) for r in key_set.regions)
    if uses_azure and key_set.accounts.azure_subscription_id is None:
        yield key_set.source.at("", "Azure regions are declared but accounts.azure (tenantId, subscriptionId) is "
                                "missing", "R-ACCOUNTS")
    if any(r.astra_registrations for r in key_set.regions) and key_set.accounts.astra_organization_id is None:
        yield key_set.source.at("", "Astra registrations are declared but accounts.astra.organizationId is "
                                "missing", "R-ACCOUNTS")


RULES: tuple[Rule, ...] = (
    azure_accounts_declared,
    astra_vault_uses_rbac,
    astra_vault_bypass,
    astra_key_is_rsa,
    hsm_key_needs_premium_vault,
    one_astra_key_per_region,
    astra_principals_are_granted,
)


def check(key_set: KeySet) -> list[Diagnostic]:
    return [diagnostic for rule in RULES for diagnostic in rule(key_set)]
