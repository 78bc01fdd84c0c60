"""The health of each key path: can every declared consumer still use its key, as it reads it?

Pure functions over a plan's steps (each carries the object as read while planning): no call of
its own, so a check costs what the plan's reads cost. A path is the consumer (a registration, a
cluster, a data center) and everything it depends on, transitively: its key, the key's vault, the
grants, the principals. Each object on the path yields findings; the worst one is the path's.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.plan.model import Action, Plan, Step

DEFAULT_EXPIRY_WARNING_DAYS = 30
DAY = 86_400
# ARM's provisioningState values that end a change well; a change under way only warns.
SUCCEEDED = "Succeeded"
FAILED_STATES = frozenset({"Failed", "Canceled"})


class Status(enum.IntEnum):
    HEALTHY = 0
    WARNING = 1
    BROKEN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    address: str
    status: Status
    reason: str


@dataclass(frozen=True)
class PathHealth:
    """One consumer's key path, and what is wrong on it (nothing, when healthy)."""

    consumer: str
    kind: str
    region: str
    findings: tuple[Finding, ...]

    @property
    def status(self) -> Status:
        return max((f.status for f in self.findings), default=Status.HEALTHY)


@dataclass(frozen=True)
class Health:
    key_set: str
    paths: tuple[PathHealth, ...]
    checked_at: int

    @property
    def status(self) -> Status:
        return max((p.status for p in self.paths), default=Status.HEALTHY)

    def count(self, status: Status) -> int:
        return sum(1 for path in self.paths if path.status is status)


@dataclass(frozen=True)
class Clock:
    """What a finding is judged against: now, and how close an expiry must be to warn."""

    now: int
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS


# What is wrong with one object of a kind, as its vendor would say it.
Check = Callable[[Step, Clock], Iterable["Finding"]]


@dataclass(frozen=True)
class HealthRules:
    """What the health check knows of each kind, gathered from the plug-ins it is handed."""

    # kind -> the findings of an object of the kind that exists
    checks: Mapping[str, Check] = field(default_factory=dict)
    # kind -> the findings of a lookup of the kind (a read, never created)
    lookups: Mapping[str, Check] = field(default_factory=dict)
    # kind -> why a missing object of the kind breaks its path; "does not exist" otherwise
    missing: Mapping[str, Callable[[Step], str]] = field(default_factory=dict)
    # The kinds whose owner uses a key: one path each (unless another consumer's path holds it).
    consumers: frozenset[str] = frozenset()
    # consumer kind -> the service that reaches the vault as a trusted Microsoft service
    trusted_services: Mapping[str, str] = field(default_factory=dict)

    def __add__(self, other: HealthRules) -> HealthRules:
        return HealthRules({**self.checks, **other.checks}, {**self.lookups, **other.lookups},
                           {**self.missing, **other.missing}, self.consumers | other.consumers,
                           {**self.trusted_services, **other.trusted_services})


def evaluate(plan: Plan, unread: Mapping[str, str], clock: Clock, rules: HealthRules) -> Health:
    """The health of every declared consumer's key path in `plan`, judged by `rules`."""
    by_address = {step.address: step for step in plan.steps}
    consumers = [s for s in plan.steps if s.kind in rules.consumers]
    used = {dep for s in consumers for dep in _chain(s.address, by_address) if dep != s.address}
    paths = [_path(step, by_address, unread, clock, rules) for step in consumers if step.address not in used]
    return Health(plan.key_set, tuple(sorted(paths, key=lambda p: (p.region, p.consumer))), clock.now)


def _chain(address: str, by_address: Mapping[str, Step]) -> list[str]:
    """`address` and everything it depends on, each once, nearest first."""
    seen: dict[str, None] = {}
    frontier = [address]
    while frontier:
        current = frontier.pop(0)
        if current in seen or current not in by_address:
            continue
        seen[current] = None
        frontier.extend(by_address[current].depends_on)
    return list(seen)


def _path(step: Step, by_address: Mapping[str, Step], unread: Mapping[str, str], clock: Clock,
          rules: HealthRules) -> PathHealth:
    chain = [by_address[address] for address in _chain(step.address, by_address)]
    findings = [f for link in chain for f in step_findings(link, unread, clock, rules)]
    findings += _closed_vaults(step, chain, rules.trusted_services.get(step.kind))
    return PathHealth(step.address, step.kind, step.region, tuple(findings))


def _closed_vaults(consumer: Step, chain: Iterable[Step], service: str | None) -> Iterable[Finding]:
    """A vault the consumer's service cannot reach: its firewall denies public networks and does not let
    trusted Microsoft services through, the way these services come (Cosmos DB's customer-key guide;
    the R-*-BYPASS rules). The vault itself is sound, so this belongs to the path, not the vault."""
    if service is None:
        return
    for step in chain:
        acls = step.live.get("networkAcls") or {} if step.kind == "azure_vault" else {}
        if acls.get("defaultAction") == "Deny" and "AzureServices" not in str(acls.get("bypass") or ""):
            yield Finding(step.address, Status.BROKEN, f"{service} cannot reach the key: the vault denies public "
                          f"networks and does not let trusted Microsoft services bypass its firewall "
                          f"(networkAcls: defaultAction Deny, bypass {acls.get('bypass') or 'None'})")


def step_findings(step: Step, unread: Mapping[str, str], clock: Clock, rules: HealthRules) -> list[Finding]:
    """What is wrong with one object of a path, as its vendor would say it."""
    if step.address in unread:
        return [Finding(step.address, Status.BROKEN, f"could not be read: {unread[step.address]}")]
    if step.action is Action.READ:
        lookup = rules.lookups.get(step.kind)
        return list(lookup(step, clock)) if lookup else []
    if not step.live:
        missing = rules.missing.get(step.kind)
        return [Finding(step.address, Status.BROKEN, missing(step) if missing else "does not exist")]
    check = rules.checks.get(step.kind)
    return list(check(step, clock)) if check else []


def _missing_grant(step: Step) -> str:
    return "the grant does not exist: the consumer's principal cannot use the key"


def _vault(step: Step, clock: Clock) -> Iterable[Finding]:
    live = step.live
    if live.get("enablePurgeProtection") is not True:
        yield Finding(step.address, Status.BROKEN, "purge protection is off (enablePurgeProtection: false)")
    if live.get("enableSoftDelete") is False:
        yield Finding(step.address, Status.BROKEN, "soft delete is off (enableSoftDelete: false)")


def _azure_key(step: Step, clock: Clock) -> Iterable[Finding]:
    live = step.live
    if live.get("enabled") is False:
        yield Finding(step.address, Status.BROKEN, "the key is disabled (attributes.enabled: false)")
    yield from _window(step.address, live.get("notBefore"), live.get("expires"), clock)
    if any(change.name == "rotationPolicy" for change in step.changes):
        yield Finding(step.address, Status.WARNING, "the rotation policy differs from the declared one")


def _window(address: str, not_before: Any, expires: Any, clock: Clock) -> Iterable[Finding]:
    if isinstance(not_before, int) and not_before > clock.now:
        yield Finding(address, Status.BROKEN, f"the key is not valid before {_date(not_before)} (attributes.nbf)")
    if not isinstance(expires, int):
        return
    if expires <= clock.now:
        yield Finding(address, Status.BROKEN, f"the key expired at {_date(expires)} (attributes.exp)")
    elif expires - clock.now < clock.expiry_warning_days * DAY:
        days = (expires - clock.now) // DAY
        yield Finding(address, Status.WARNING, f"the key expires at {_date(expires)}, in {days} day(s) "
                                               f"(attributes.exp)")


def _date(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kms_key(step: Step, clock: Clock) -> Iterable[Finding]:
    live = step.live
    if live.get("keyState") != "Enabled":
        yield Finding(step.address, Status.BROKEN, f"KeyState is {live.get('keyState')}, not Enabled")
    if step.attributes.get("enableKeyRotation") and not live.get("enableKeyRotation"):
        yield Finding(step.address, Status.WARNING, "automatic key rotation is off (KeyRotationEnabled: false)")
    for change in step.changes:
        if change.name.startswith("policy["):
            yield Finding(step.address, Status.BROKEN, f"the key policy no longer holds the statement "
                                                       f"{change.name[len('policy['):-1]!r} as declared")


def _access_policy(step: Step, clock: Clock) -> Iterable[Finding]:
    held = {name for name, on in (step.live.get("keyPermissions") or {}).items() if on}
    wanted = {name for name, on in (step.attributes.get("keyPermissions") or {}).items() if on}
    if wanted - held:
        yield Finding(step.address, Status.BROKEN, f"the access policy lacks key permissions "
                                                   f"{', '.join(sorted(wanted - held))}")


def provisioned(step: Step, clock: Clock) -> Iterable[Finding]:
    """ARM's provisioningState: a change that failed breaks the path, one under way warns."""
    state = step.live.get("provisioningState")
    if state in FAILED_STATES:
        yield Finding(step.address, Status.BROKEN, f"provisioningState is {state}")
    elif state not in (None, SUCCEEDED):
        yield Finding(step.address, Status.WARNING, f"provisioningState is {state}")


_CHECKS = {
    "azure_vault": _vault,
    "azure_key": _azure_key,
    "aws_kms_key": _kms_key,
    "azure_access_policy": _access_policy,
}
# The core's rules (vaults, keys, grants); each plug-in adds its kinds' through `Plugin.health`.
CORE_RULES = HealthRules(
    checks=_CHECKS,
    missing={"azure_role_assignment": _missing_grant, "azure_access_policy": _missing_grant},
)
