"""A region's `identities`: user-assigned managed identities, declared by name and resource group.

An identity is a principal like any other (`principal: {identity: NAME}` in a role assignment or
an access policy), and a consumer may act as it (Mongo vCore reads its key as one). Its object
ID is the identity's `principalId`, known once the identity exists.
"""

from __future__ import annotations

from typing import Any

from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import UserAssignedIdentity
from reconciler.manifest.yamlsource import JsonPath


def user_assigned_identities(context: ResolveContext, region: str, path: JsonPath,
                             raw: dict[str, Any]) -> tuple[UserAssignedIdentity, ...]:
    found = tuple(
        UserAssignedIdentity(entry["name"], region, entry["resourceGroup"],
                             context.source((*path, "identities", index)))
        for index, entry in enumerate(raw.get("identities", []))
    )
    _check_unique(context, found)
    return found


def _check_unique(context: ResolveContext, identities: tuple[UserAssignedIdentity, ...]) -> None:
    # `{identity: NAME}` names an identity within its region, so a name may appear once per region.
    seen: dict[str, UserAssignedIdentity] = {}
    for identity in identities:
        first = seen.setdefault(identity.name.lower(), identity)
        if first is not identity:
            context.problem(identity.source, "name", f"identity {identity.name!r} is declared twice (first at line "
                            f"{first.source.line})", "E-DUPLICATE")
