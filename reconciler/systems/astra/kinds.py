"""Astra's kinds: the provider-ID lookup and the key registration."""

from __future__ import annotations

from reconciler.core.kinds import KindSpec

ASTRA_PROVIDER_ACCOUNTS = KindSpec(
    # identity: product (serverless | managed-clusters), cloud (azure | aws | gcp), region
    # outputs: providerIds (list of strings, in the order Astra lists them)
    kind="astra_provider_accounts",
    plane="astra",
    read_only=True,
)

ASTRA_REGISTRATION = KindSpec(
    # identity: organizationId, product, cloud, region ; attributes: keyId ; outputs: none
    kind="astra_registration",
    plane="astra",
    immutable={
        "keyId": "Astra keeps one key per provider and region; replacing it takes a support ticket",
    },
    irreversible_create="Astra cannot unregister a key: removing it takes a support ticket",
    rules={"keyId": "R-ASTRA-ONE-KEY"},
)
