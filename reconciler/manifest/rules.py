"""Vendor requirements as small named checks. Each returns diagnostics; none touches a cloud.

Rule IDs are stable: they appear in messages and documentation, so users can search for them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from reconciler.core.errors import Diagnostic
from reconciler.manifest.model import KeySet
from reconciler.manifest.plugins import ManifestPlugin
from reconciler.manifest.rotation import EXPIRY_REFUSAL_RULE, EXPIRY_RULE, expiry_refusal, expiry_warning

Rule = Callable[[KeySet], Iterator[Diagnostic]]


def hsm_key_needs_premium_vault(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-HSM-SKU: HSM-protected keys exist only in premium vaults."""
    for region in key_set.regions:
        for key in region.keys:
            vault = region.vault(key.vault)
            if key.type.endswith("-HSM") and vault is not None and vault.sku != "premium":
                yield key.source.at("type", f"an {key.type} key needs a premium vault; vault {vault.name!r} is "
                                    f"{vault.sku}", "R-HSM-SKU")


def azure_accounts_declared(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ACCOUNTS: cmkctl acts only in accounts the manifest names."""
    uses_azure = any(r.cloud == "azure" and (r.vaults or r.keys or r.role_assignments) for r in key_set.regions)
    if uses_azure and key_set.accounts.azure_subscription_id is None:
        yield key_set.source.at("", "Azure regions are declared but accounts.azure (tenantId, subscriptionId) is "
                                "missing", "R-ACCOUNTS")


def key_not_born_expiring(key_set: KeySet) -> Iterator[Diagnostic]:
    """R-ROTATION-EXPIRY: no key whose versions expire, unrotated, within days of being made."""
    for region in key_set.regions:
        for key in region.keys:
            if why := expiry_refusal(key.rotation):
                yield key.source.at("rotation", f"key {key.name}: {why}", EXPIRY_REFUSAL_RULE)


RULES: tuple[Rule, ...] = (
    azure_accounts_declared,
    hsm_key_needs_premium_vault,
    key_not_born_expiring,
)


def access_policy_principals_served(key_set: KeySet, served: Collection[str]) -> Iterator[Diagnostic]:
    """E-REFERENCE: the schema lists principal kinds; a system must also serve the kind."""
    for region in key_set.regions:
        for policy in region.access_policies:
            if policy.principal.kind not in served:
                yield policy.source.at("principal", f"principal kind {policy.principal.kind!r} cannot hold an "
                                       "access policy", "E-REFERENCE")


def check(key_set: KeySet, plugins: Sequence[ManifestPlugin]) -> list[Diagnostic]:
    """The core's rules, each plug-in's, then those over the whole table (no plug-in imports the table)."""
    found = [diagnostic for rule in RULES for diagnostic in rule(key_set)]
    found += [diagnostic for plugin in plugins for diagnostic in plugin.rules(key_set)]
    served = {kind for plugin in plugins for kind in plugin.principal_kinds}
    return found + list(access_policy_principals_served(key_set, served))


def expiry_warnings(key_set: KeySet) -> list[tuple[str, Diagnostic]]:
    """(region, warning) for each declared key whose versions expire before a rotation replaces them."""
    return [(region.name, key.source.at("rotation", f"key {key.name}: {message}", EXPIRY_RULE))
            for region in key_set.regions for key in region.keys if (message := expiry_warning(key.rotation))]
