"""What a plug-in (a system that consumes customer keys, or a plane several share) adds to the run.

The core handles what every system shares: vaults, keys and role assignments. A plug-in adds its
registrations (`registrations: - NAME: {...}`), its principal kinds (`principal: {NAME: ...}`),
the rules its vendor imposes, the lookups it needs before expansion, the kinds it creates, its
refusals and notices at plan, its health rules, its part of an export and of the unmanaged report,
its plane's configuration and its handlers. Each hook has a do-nothing default, so a plug-in
overrides only what it needs; the engine, the health check and the use cases iterate over the
table of plug-ins they are handed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.core.kinds import KindSpec
from reconciler.core.retry import RetryPolicy
from reconciler.manifest.context import ResolveContext
from reconciler.manifest.keyref import KEY_IDENTIFIER
from reconciler.manifest.model import KeySet, Principal, Region, Registration, RoleAssignment
from reconciler.manifest.yamlsource import JsonPath
from reconciler.plan.health import HealthRules
from reconciler.plan.model import Notice, Plan, Resource, Step
from reconciler.providers.base import ResourceHandler
from reconciler.providers.plumbing import PlaneHandlers, Plumbing


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
    # The plug-in serving each principal kind: handed down by the expansion, which is handed the table,
    # so that no plug-in has to import the table it is listed in.
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


UNMANAGED = "I-UNMANAGED"


def unmanaged_notice(region: str, message: str) -> Notice:
    """A notice of an object the key set once made and no longer declares (left in place)."""
    return Notice(UNMANAGED, region, message, level="info")


def vault_of_key(key_id: str, ours: Mapping[str, Any]) -> Any:
    """The vault of ours (by lower-case name) that holds the key `key_id` identifies, or None."""
    match = KEY_IDENTIFIER.match(key_id)
    return ours.get(match["vault"].lower()) if match is not None else None


# vault name -> its exported keys, as the inventory lists them (name, keyUriWithVersion, ...)
ExportedKeys = Mapping[str, list[dict[str, Any]]]


def exported_key_name(key_id: str, keys: ExportedKeys) -> str | None:
    """The name of the exported key `key_id` identifies, if it is one of them."""
    match = KEY_IDENTIFIER.match(key_id or "")
    if match is None or match["key"] not in {k["name"] for k in keys.get(match["vault"], [])}:
        return None
    return match["key"]


@dataclass(frozen=True)
class ExportRegion:
    """One region being exported: what the core found there, for the plug-ins to name their objects by."""

    key_set: KeySet
    region: str
    # The run's inventory: each plug-in asks it for its own listings.
    lists: Any
    keys: ExportedKeys = field(default_factory=dict)
    # The exported user-assigned identities, by name.
    identities: Mapping[str, str] = field(default_factory=dict)


def _no_registrations(skipped: list[str]) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class ExportPart:
    """What a plug-in adds to an exported Azure region."""

    # application ID -> the manifest's principal for it ({"astra": "serverless"})
    applications: Mapping[str, dict[str, str]] = field(default_factory=dict)
    # object ID -> the declared object it is the principal of ({"cassandraCluster": NAME})
    principals: Mapping[str, dict[str, str]] = field(default_factory=dict)
    # Its `registrations:` entries, written where the core writes them (what it skips, in that order).
    registrations: Callable[[list[str]], list[dict[str, Any]]] = _no_registrations


@dataclass(frozen=True)
class Refusal:
    """Why the plan must not go on with an object, as its live state shows (the rule it breaks)."""

    reason: str
    rule: str


@dataclass(frozen=True)
class PlanRun:
    """What a plug-in's planning hooks may use of the run: the key set, its handlers, its retries."""

    key_set: KeySet
    handlers: Mapping[str, ResourceHandler]
    retry: RetryPolicy
    parallelism: int
    # Objects whose read failed (a health check goes on without them): not known to be new.
    unread: frozenset[str] = frozenset()


class Plugin:
    name: str = ""
    registration_key: str | None = None
    # The clouds whose regions' `registrations:` it resolves its block in (empty: every cloud), so that
    # one service's block may be resolved by one plug-in on Azure and by another on AWS.
    registration_clouds: frozenset[str] = frozenset()
    principal_kinds: frozenset[str] = frozenset()
    kinds: Sequence[KindSpec] = ()
    # What the health check knows of this plug-in's kinds.
    health: HealthRules = HealthRules()
    # Its plane's configuration: the variable that overrides each of its planes' endpoint (sovereign
    # clouds, test doubles), what each plane is called in a message, and the environment variable each
    # credential of the run's Connection is read from (the emulator issues values of the same names).
    endpoint_variables: Mapping[str, str] = MappingProxyType({})
    plane_names: Mapping[str, str] = MappingProxyType({})
    credential_variables: Mapping[str, str] = MappingProxyType({})
    # Its part of the manifest's JSON Schema (`reconciler.manifest.schema`: accounts, registration
    # blocks, principal kinds, definitions); schemas/manifest.v1.json is the table's composition.
    schema_fragment: Mapping[str, Any] = MappingProxyType({})

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

    def refusal(self, resource: Resource, live: Mapping[str, Any]) -> Refusal | None:
        """A refusal of `resource` that its live state calls for (a region the vendor has not enabled)."""
        return None

    def plan_notices(self, steps: Sequence[Step], run: PlanRun) -> list[Notice]:
        """What a reviewer should know of the plan's steps that only the vendor can say."""
        return []

    def unmanaged(self, key_set: KeySet, plan: Plan, lists: Any, ours: Mapping[str, Any]) -> list[Notice]:
        """What this plug-in's vendor holds of the key set but the key set no longer declares.

        `lists` is the run's inventory; `ours` the key set's vaults by lower-case name.
        """
        return []

    def export_azure(self, region: ExportRegion) -> ExportPart:
        """What exists of this plug-in's in an Azure region, as a manifest declares it."""
        return ExportPart()

    def kms_principals(self, region: ExportRegion) -> Mapping[str, list[dict[str, str]]]:
        """ARN -> the manifest's principals for it, for a KMS key policy's `allow` (AWS regions)."""
        return {}

    def export_aws(self, region: ExportRegion, aliases: Mapping[str, str], skipped: list[str]) -> list[dict[str, Any]]:
        """`registrations:` of an AWS region's exported keys (`aliases`: key ARN -> alias)."""
        return []

    def emulator_accounts(self, key_set: KeySet) -> Mapping[str, Any]:
        """The emulator's world for the key set: the accounts this plug-in's plane answers as."""
        return {}

    def export_accounts(self, key_set: KeySet) -> Mapping[str, Any]:
        """This plug-in's entries of an exported manifest's `accounts:`."""
        return {}

    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers:
        """This plug-in's handlers for a run, with its clients, credential checks, caches and closers."""
        return PlaneHandlers()
