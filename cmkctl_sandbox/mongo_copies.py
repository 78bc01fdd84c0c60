"""Mongo vCore clusters made from another: a point-in-time restore or a replica.

The 2026-06-01 definition's `createMode` is Default, PointInTimeRestore ("Create a mongo cluster from a
restore point-in-time", `restoreParameters.sourceResourceId`), GeoReplica or Replica (a replica "in
distinct geographic region" or "in the same geographic region as the source cluster",
`replicaParameters.sourceResourceId`, required). The published examples MongoClusters_CreatePITR.json and
MongoClusters_CreateGeoReplica.json send no administrator, compute or storage and answer the source's: a
copy takes them from its source. Its encryption is its own request's: a restore or a replica is how the
service says to change a cluster's encryption mode (mongo.MODE_FIXED).
"""

from __future__ import annotations

import re
from typing import Any

from cmkctl_sandbox.arm_common import bad_request

SOURCES = {"PointInTimeRestore": "restoreParameters", "GeoReplica": "replicaParameters", "Replica": "replicaParameters"}
# What a copy has of its source unless its request says otherwise.
INHERITED = ("administrator", "compute", "storage", "sharding", "highAvailability", "serverVersion")
CLUSTER_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
                        r"Microsoft\.DocumentDB/mongoClusters/(?P<name>[^/]+)/?$", re.IGNORECASE)


def source_of(clusters: dict[str, dict[str, Any]], properties: dict[str, Any]) -> dict[str, Any] | None:
    """The cluster a restore or replica copies (None for a new cluster); refused when it names none that exists."""
    mode = properties.get("createMode")
    field = SOURCES.get(str(mode))
    if field is None:
        return None
    given = properties.get(field)
    source_id = given.get("sourceResourceId") if isinstance(given, dict) else None
    match = CLUSTER_ID.match(source_id) if isinstance(source_id, str) else None
    if match is None:
        bad_request(f"createMode {mode} needs properties.{field}.sourceResourceId, a Mongo cluster's resource ID.")
    found = clusters.get(f"{match['sub']}/{match['rg']}/{match['name']}".lower())
    if found is None:
        bad_request(f"The source cluster '{source_id}' of createMode {mode} was not found.")
    return found


def copied(properties: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The copy's properties: its request's, and its source's settings where the request gives none."""
    held = source["properties"]
    return {**{name: held[name] for name in INHERITED if name in held and name not in properties}, **properties}
