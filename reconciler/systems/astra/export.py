"""Astra's part of `cmkctl export`: its provider IDs as principals, and its registrations of exported keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.plugins.base import ExportPart, ExportRegion, exported_key_name
from reconciler.systems.astra.planning import PRODUCTS


def creator_arn(provider_id: str) -> str:
    """The role Astra uses in its provider account, as the procedure names it."""
    return f"arn:aws:iam::{provider_id}:role/creator"


def _uses_astra(region: ExportRegion) -> bool:
    return region.key_set.accounts.of("astra", "organizationId") is not None


def export_azure(region: ExportRegion) -> ExportPart:
    if not _uses_astra(region):
        return ExportPart()
    # Astra's provider (application) IDs of the region -> the product they serve.
    apps = {app: product for product in PRODUCTS
            for app in region.lists.astra_provider_ids(product, "azure", region.region)}
    return ExportPart(applications={app: {"astra": product} for app, product in apps.items()},
                      registrations=lambda skipped: _registrations(region, skipped))


def _registrations(region: ExportRegion, skipped: list[str]) -> list[dict[str, Any]]:
    found = []
    for product in PRODUCTS:
        for entry in region.lists.astra_registrations(product):
            fields = {k.lower(): v for k, v in entry.items()}
            if str(fields.get("cloudprovider", "")).lower() != "azure" or fields.get("region") != region.region:
                continue
            name = exported_key_name(str(fields.get("keyid", "")), region.keys)
            if name is None:
                skipped.append(f"Astra {product} key {fields.get('keyid')} in {region.region} (its vault was not "
                               "exported)")
                continue
            found.append({"astra": {"product": product, "key": name}})
    return found


def kms_principals(region: ExportRegion) -> Mapping[str, list[dict[str, str]]]:
    """Astra's creator role of each provider account of the region -> the products it serves."""
    if not _uses_astra(region):
        return {}
    products: dict[str, set[str]] = {}
    for product in PRODUCTS:
        for provider_id in region.lists.astra_provider_ids(product, "aws", region.region):
            products.setdefault(provider_id, set()).add(product)
    return {creator_arn(account): [{"astra": p} for p in sorted(served)] for account, served in products.items()}


def export_aws(region: ExportRegion, aliases: Mapping[str, str], skipped: list[str]) -> list[dict[str, Any]]:
    uses = _uses_astra(region)
    listed = {product: region.lists.astra_registrations(product) for product in PRODUCTS} if uses else {}
    return aws_registrations(listed, region.region, aliases, skipped)


def aws_registrations(entries: Mapping[str, list[dict[str, Any]]], region: str,
                      aliases: Mapping[str, str], skipped: list[str]) -> list[dict[str, Any]]:
    """`astra:` registrations of the region's exported keys; `entries` are Astra's lists, by product."""
    found = []
    for product, listed in entries.items():
        for entry in listed:
            fields = {k.lower(): v for k, v in entry.items()}
            if str(fields.get("cloudprovider", "")).lower() != "aws" or fields.get("region") != region:
                continue
            alias = aliases.get(str(fields.get("keyid", "")))
            if alias is None:
                skipped.append(f"Astra {product} key {fields.get('keyid')} in {region} (it has no alias to declare "
                               "it by)")
                continue
            found.append({"astra": {"product": product, "key": alias}})
    return found
