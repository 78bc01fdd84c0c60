"""Seeding the `confluent` section of world.yaml: existing BYOK keys and clusters.

```yaml
confluent:
  validationReads: 1        # reads of a new BYOK key that answer INITIALIZING (default 1)
  keys:
    - {keyId*: https://kv1.vault.azure.net/keys/cmk, tenantId*: GUID, id: cck-abc123, applicationId: GUID,
       keyVaultId*: /subscriptions/S/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1, phase: VALID}
  clusters:
    - {name*: orders, environmentId*: env-a1b2c3, region*: eastus, availability: MULTI_ZONE, cku: 2,
       byokKeyId: cck-abc123, id: lkc-abc123}     # no byokKeyId: the Automatic encryption mode
```
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import confluent
from cmkctl_sandbox.seed import Section, SeedProblem
from cmkctl_sandbox.wire import State

SECTIONS: dict[str, tuple[str, ...]] = {
    "confluent": ("validationReads", "keys", "clusters"),
    "confluent.keys": ("id", "keyId", "keyVaultId", "tenantId", "applicationId", "phase"),
    "confluent.clusters": ("id", "name", "environmentId", "region", "availability", "cku", "byokKeyId"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "confluent.keys": ("keyId", "keyVaultId", "tenantId"),
    "confluent.clusters": ("name", "environmentId", "region"),
}
PHASES = ("INITIALIZING", "VALID", "INVALID")


def _require(condition: bool, field: str, summary: str) -> None:
    if not condition:
        raise SeedProblem(field, summary)


def seed(state: State, world: Section) -> None:
    reads = world.get("validationReads", 1)
    _require(isinstance(reads, int) and not isinstance(reads, bool) and reads >= 0,
             "confluent.validationReads", "expected a whole number, 0 or more")
    confluent.section(state)["validationReads"] = reads
    for index, entry in enumerate(world.get("keys") or []):
        _seed_key(state, entry, f"confluent.keys[{index}]")
    for index, entry in enumerate(world.get("clusters") or []):
        _seed_cluster(state, entry, f"confluent.clusters[{index}]")


def _seed_key(state: State, entry: Section, where: str) -> None:
    phase = entry.get("phase", "VALID")
    _require(phase in PHASES, f"{where}.phase", f"expected one of {', '.join(PHASES)}")
    key = {"key_id": str(entry["keyId"]), "key_vault_id": str(entry["keyVaultId"]),
           "tenant_id": str(entry["tenantId"])}
    record = confluent.key_record(state, key, key_id=str(entry.get("id") or ""),
                                  application_id=str(entry.get("applicationId") or ""))
    _require(record["id"] not in confluent.section(state)["keys"], f"{where}.id", f"{record['id']} is declared twice")
    record["validation"]["phase"] = phase
    confluent.section(state)["keys"][record["id"]] = record


def _seed_cluster(state: State, entry: Section, where: str) -> None:
    spec: dict[str, Any] = {
        "display_name": str(entry["name"]),
        "availability": str(entry.get("availability", "MULTI_ZONE")),
        "cloud": "AZURE",
        "region": str(entry["region"]),
        "config": {"kind": "Dedicated", "cku": entry.get("cku", 2)},
        "environment": {"id": str(entry["environmentId"])},
    }
    if entry.get("byokKeyId"):
        key = confluent.section(state)["keys"].get(str(entry["byokKeyId"]))
        _require(key is not None, f"{where}.byokKeyId", "must be the id of an entry in confluent.keys")
        assert key is not None
        key["state"] = "IN_USE"
        spec["byok"] = {"id": key["id"]}
    record = confluent.cluster_record(state, spec, str(entry.get("id") or ""))
    record["status"]["phase"] = "PROVISIONED"
    confluent.section(state)["clusters"][record["id"]] = record
