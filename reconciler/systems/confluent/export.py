"""Confluent's part of `cmkctl export`: each BYOK key of an exported key, with its Dedicated cluster."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.plugins.base import ExportPart, ExportRegion, exported_key_name


def export_azure(region: ExportRegion) -> ExportPart:
    accounts = region.key_set.accounts
    listed = region.lists.confluent_keys() if accounts.of("confluent", "environmentId") else []
    # Confluent's application of a BYOK key is named, in the manifest, by the key it serves.
    byok = {c["applicationId"]: (name, c) for c in listed if (name := exported_key_name(c["keyId"], region.keys))}
    return ExportPart(applications={app: {"confluent": name} for app, (name, _) in byok.items()},
                      registrations=lambda skipped: list(_registrations(region, sorted(byok.values(),
                                                                                       key=lambda b: b[0]))))


def _registrations(region: ExportRegion, byok: Sequence[tuple[str, Mapping[str, Any]]]) -> Iterable[dict[str, Any]]:
    environment = region.key_set.accounts.of("confluent", "environmentId")
    listed = region.lists.confluent_clusters(environment) if environment and byok else []
    clusters = [c for c in listed if str(c.get("cloud")).upper() == "AZURE"
                and str(c.get("region")).lower() == region.region.lower()]
    for name, entry in byok:
        cluster = confluent_cluster(clusters, entry.get("id"))
        yield {"confluent": {"key": name, **({"cluster": cluster} if cluster else {})}}


def confluent_cluster(clusters: Iterable[Mapping[str, Any]], byok_id: str | None) -> dict[str, Any] | None:
    """`cluster:` of the Dedicated cluster encrypted with the BYOK key `byok_id`, if there is one."""
    found = next((c for c in clusters if byok_id and c.get("byokKeyId") == byok_id and c.get("kind") == "Dedicated"),
                 None)
    if found is None:
        return None
    entry: dict[str, Any] = {"name": found["name"], "availability": found["availability"], "cku": found["cku"]}
    if found.get("network"):
        entry["network"] = found["network"]
    return entry
