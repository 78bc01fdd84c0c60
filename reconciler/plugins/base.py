"""What a system (a service that consumes customer keys) adds to the engine.

The core handles what every system shares: vaults, keys and role assignments. A system adds its
registrations (`registrations: - NAME: {...}`), its principal kinds (`principal: {NAME: ...}`),
the rules its vendor imposes, the lookups it needs before expansion, and the kinds it creates.
Each hook has a do-nothing default, so a system overrides only what it needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import KeySet, Principal, Region, Registration, RoleAssignment
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.model import Resource


@dataclass(frozen=True)
class PrincipalTarget:
    """One principal a role assignment grants to, as the expansion knows it."""

    # Part of the assignment's address: stable and readable.
    label: str
    # The principal's object ID, or an Unknown produced by `depends_on`.
    principal_id: Any
    depends_on: str = ""
    principal_type: str = "ServicePrincipal"


@dataclass
class Grant:
    """A role assignment of the manifest and the resources it expanded to."""

    assignment: RoleAssignment
    addresses: list[str]


@dataclass
class ExpandContext:
    key_set: KeySet
    # Answers of the lookups, by lookup address (e.g. Astra provider IDs).
    lookups: Mapping[str, Mapping[str, Any]]
    # The system serving each principal kind: handed down by the expansion, which sits above the table,
    # so that no system has to import the table it is listed in.
    principal_plugins: Mapping[str, Plugin] = field(default_factory=dict)
    # Principals several assignments may share, deduplicated by address.
    shared: dict[str, Resource] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)

    def share(self, resource: Resource) -> Resource:
        return self.shared.setdefault(resource.address, resource)

    def grants_to(self, region: str, vault: str, principal: Principal) -> list[str]:
        return [address for grant in self.grants
                if grant.assignment.region == region and grant.assignment.vault == vault
                and grant.assignment.principal == principal for address in grant.addresses]


class Plugin:
    name: str = ""
    registration_key: str | None = None
    principal_kinds: frozenset[str] = frozenset()
    kinds: Sequence[KindSpec] = ()

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        return None

    def check_references(self, context: ResolveContext, key_set: KeySet, region: Region) -> None:
        """Report dangling or cross-region references of this system's registrations."""

    def rules(self, key_set: KeySet) -> Iterator[Diagnostic]:
        return iter(())

    def lookups(self, key_set: KeySet) -> list[Resource]:
        return []

    def principals(self, context: ExpandContext, region: Region, principal: Principal,
                   source: str) -> list[PrincipalTarget]:
        return []

    def resources(self, context: ExpandContext, region: Region) -> list[Resource]:
        return []
