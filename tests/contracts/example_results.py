"""What each replayed example shows: passes, pending another change, differing, or wrong at its source.

PENDING lists the cases a change under way on another branch will make pass; DIFFERS, the cases where
the emulator differs, with no change under way to make it agree.
Each is run as a strict xfail, so the first run after the fix is merged fails until its entry is deleted
here. KNOWN_WRONG lists examples that contradict themselves or their definition, with the check that they
still do. `table()` renders all of it for README.md (test_examples_table.py holds the two equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.contracts.vendor_examples import Example


@dataclass(frozen=True)
class Open:
    """A case that does not pass yet: a short label for the table, and why."""

    label: str
    why: str


# Direction "a": the example's answer served to cmkctl's read path; "b": its request sent to the emulator.
# (example file, direction) -> what a change under way on another branch fixes.
PENDING: dict[tuple[str, str], Open] = {}

NO_USERS = Open("no user principals", "the emulator's directory holds service principals only (graph.py and rbac.py), so an assignment with `principalType: User`, as these examples make, is refused 400 "
                "`UnmatchedPrincipalType`, as ARM refuses a principal of another type")
# (example file, direction) -> how the emulator differs, with no change under way.
DIFFERS: dict[tuple[str, str], Open] = {
    **{(file, "b"): NO_USERS for file in ("RoleAssignments_CreateForResource.json",
                                          "RoleAssignments_CreateForResourceGroup.json",
                                          "RoleAssignments_CreateForSubscription.json")},
}


@dataclass(frozen=True)
class KnownWrong:
    """An example wrong at its source: why, a check that holds while it still is, the fields of its answers
    left out of both comparisons, and, for a request the service must refuse, the refusal (status, code)
    the emulator gives it instead of the example's answer."""

    why: str
    still: Callable[[Example], bool]
    ignore: tuple[str, ...] = ()
    refused: tuple[int, str] | None = None


def _identity_ids(example: Example) -> list[str]:
    return [example.final["id"]] if "value" not in example.final else [i["id"] for i in example.final["value"]]


def _item_ids_name_the_collection(example: Example) -> bool:
    return all(item["id"].endswith(item["type"].rsplit("/", 1)[1]) for item in example.body(200)["value"])


def _geo_replica_cmk_names_itself(example: Example) -> bool:
    asked = example.parameters["resource"]["properties"]["encryption"]["customerManagedKeyEncryption"]
    return all(
        (body := example.body(status))["properties"]["encryption"]["customerManagedKeyEncryption"][
            "keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"] == body["id"]
        != asked["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"]
        for status in (200, 201))


def _patch_answer_drops_its_tags(example: Example) -> bool:
    return example.body(200)["tags"] == {} != example.parameters["body"]["tags"] == example.body(202)["tags"]


def _patch_moves_the_subnet(example: Example) -> bool:
    asked = example.parameters["body"]["properties"]["delegatedSubnetId"]
    return all(example.body(s)["properties"]["delegatedSubnetId"] != asked for s in (200, 202))


SUBID = "in subscription `subid`, where its request names 12345678-1234-5678-9012-123456789012"
KNOWN_WRONG: dict[str, KnownWrong] = {
    "MongoClusters_CreateGeoReplica_CMK.json": KnownWrong(
        "its 200 and 201 answers put the cluster's own resource ID where the user-assigned identity's belongs "
        "(`identity.userAssignedIdentities` and `keyEncryptionKeyIdentity.userAssignedIdentityResourceId`); its "
        "request names `.../userAssignedIdentities/myidentity`",
        _geo_replica_cmk_names_itself, ignore=("customerManagedKeyEncryption", "userAssignedIdentities")),
    "IdentityCreate.json": KnownWrong(
        f"its answers name the identity `identityName` {SUBID} and the identity `resourceName`",
        lambda e: all(not i.endswith("/resourceName") and "/subid/" in i for i in _identity_ids(e)), ignore=("id",)),
    "IdentityListByResourceGroup.json": KnownWrong(
        f"its answer's id is {SUBID}", lambda e: all("/subid/" in i for i in _identity_ids(e)), ignore=("id",)),
    "IdentityListBySubscription.json": KnownWrong(
        f"its answer's id is {SUBID}", lambda e: all("/subid/" in i for i in _identity_ids(e)), ignore=("id",)),
    "CosmosDBManagedCassandraClusterListByResourceGroup.json": KnownWrong(
        "each listed cluster's `id` is the collection's path (`.../cassandraClusters`), not the cluster's",
        _item_ids_name_the_collection, ignore=("id",)),
    "CosmosDBManagedCassandraDataCenterList.json": KnownWrong(
        "each listed data center's `id` is the collection's path (`.../dataCenters`), not the data center's",
        _item_ids_name_the_collection, ignore=("id",)),
    "CosmosDBManagedCassandraClusterPatch.json": KnownWrong(
        "its 200 answer has `tags: {}` where its request and its own 202 answer have `owner: mike`",
        _patch_answer_drops_its_tags, ignore=("tags",)),
    "CosmosDBManagedCassandraDataCenterPatch.json": KnownWrong(
        "its request moves `delegatedSubnetId` to `.../subnets/dc1-subnet`, which the definition makes "
        "create-only (`x-ms-mutability: create, read`), and its answers keep `.../subnets/dc1`",
        _patch_moves_the_subnet, refused=(400, "BadRequest")),
}


def _open(file: str, direction: str) -> tuple[str, Open] | None:
    for kind, table in (("pending", PENDING), ("differs", DIFFERS)):
        if (file, direction) in table:
            return kind, table[(file, direction)]
    return None


def marks(file: str, direction: str) -> list[Any]:
    found = _open(file, direction)
    if found is None:
        return []
    return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"{found[0]}: {found[1].why}")]


def result(file: str, direction: str) -> str:
    """One cell of the table: what the test of `file` in `direction` shows."""
    found = _open(file, direction)
    if found is not None:
        return f"{found[0]}: {found[1].label}"
    wrong = KNOWN_WRONG.get(file)
    if wrong is None:
        return "passes"
    if wrong.refused is not None and direction == "b":
        return f"known wrong (below): the emulator refuses it, {wrong.refused[0]} {wrong.refused[1]}"
    return f"known wrong (below); passes without {', '.join(wrong.ignore)}" if wrong.ignore else "known wrong (below)"


def table() -> str:
    """README.md's table of the examples and their results, and the lists the short cells refer to."""
    from tests.contracts import vendor_examples

    rows = ["| example | operation | (a) its answer served to cmkctl's read path | (b) its request sent to the emulator |",
            "|---|---|---|---|"]
    for example in sorted(vendor_examples.referenced(), key=lambda e: e.name):
        if example.name in vendor_examples.NOT_FOUND:
            rows.append(f"| {example.name} | {example.operation_id} | not found (examples/SOURCES.md) | not found |")
        else:
            rows.append(f"| {example.name} | {example.operation_id} | {result(example.file, 'a')} | "
                        f"{result(example.file, 'b')} |")
    for inline in vendor_examples.confluent_inline():
        rows.append(f"| {inline.name} (inline) | {inline.method} {inline.path} | passes | none: an error answer |")
    lists = ["", "Pending (a change under way on another branch makes these pass; strict xfail until then):", ""]
    lists += [f"- {o.label}: {o.why}." for o in dict.fromkeys(PENDING.values())]
    lists += ["", "Differs (the fix belongs to files another change of issue 20 owns; none known to make it; strict xfail):", ""]
    lists += [f"- {o.label}: {o.why}." for o in dict.fromkeys(DIFFERS.values())]
    lists += ["", "Known wrong (the example contradicts itself or its definition; "
              "`test_known_wrong_examples_are_still_wrong` checks each still does):", ""]
    lists += [f"- {file}: {wrong.why}." for file, wrong in sorted(KNOWN_WRONG.items())]
    return "\n".join(rows + lists) + "\n"


if __name__ == "__main__":  # python -m tests.contracts.example_results: what README.md's table must say
    print(table(), end="")
