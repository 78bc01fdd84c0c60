"""Refresh live state through the providers, diff it against the manifest, and build a Plan."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from reconciler.core.kinds import KindSpec
from reconciler.core.retry import RetryPolicy
from reconciler.engine import expand, graph
from reconciler.engine.diff import Decision, choose_action
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.engine.refresh import Refresh
from reconciler.engine.unmanaged import UnmanagedLists, unmanaged_notices
from reconciler.engine.variables import describe_unset, unset_variables
from reconciler.manifest.checkout import portable
from reconciler.manifest.loader import LoadedManifests
from reconciler.manifest.model import KeySet
from reconciler.manifest.rules import expiry_warnings
from reconciler.plan.model import (
    UNREADABLE,
    UNREADABLE_NOTICE,
    Action,
    ManifestFile,
    Notice,
    Plan,
    PlanContext,
    Resource,
    Step,
    Unknown,
)
from reconciler.plan.targets import partial_plan_notice, select
from reconciler.plugins import PlanRun, PluginTable
from reconciler.providers.base import Capability, Live, ReadsDeclared, ReportsNameHolder, ResourceHandler

LiveState = dict[str, Live | None]
# What the plan reads for an absent object whose name something else holds (a soft-deleted vault).
HELD = "heldBy"
NAME_HELD = "R-VAULT-SOFT-DELETED"


@dataclass
class Planner:
    handlers: Mapping[str, ResourceHandler]
    # The plug-ins the run was handed: what the key set expands to, each kind's spec, their notices.
    plugins: PluginTable = field(kw_only=True)
    parallelism: int = DEFAULT_PARALLELISM
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Where the create-time secrets will be read from at apply (the process's environment).
    environ: Mapping[str, str] = field(default_factory=dict)
    # When given, reads that fail are kept here (address -> why) and the plan goes on without them:
    # a health check reports them. A plan to act on leaves it None and fails on any failed read.
    unread: dict[str, str] | None = None
    # What the plan is made against (sandbox or real, accounts), recorded so it is applied only there.
    made_against: PlanContext = field(default_factory=PlanContext)
    # The run's listings, to report what the key set created but no longer declares (`plan`'s
    # unmanaged report); None: no report (a check, an apply).
    unmanaged: UnmanagedLists | None = None

    def plan(self, key_set: KeySet, manifests: LoadedManifests, targets: Sequence[str] = ()) -> Plan:
        lookups = expand.lookups(key_set, self.plugins)
        live = self.refresh(lookups, {})
        answers = {address: obj or {} for address, obj in live.items()}
        desired = expand.resources(key_set, answers, self.plugins)
        if targets:
            desired = select(desired, targets)
        live = self.refresh([r for r in desired if r.address not in live], live)
        steps = order_steps([make_step(resource, live, self.plugins) for resource in desired])
        made = Plan(
            key_set=key_set.name,
            steps=steps,
            notices=(*([partial_plan_notice(targets)] if targets else []), *self._variable_notices(steps),
                     *self._notices(key_set, steps), *rotation_notices(key_set), *unreadable_notices(steps)),
            manifest_digest=manifests.digest,
            # From the checkout's root, so that the plan is applied from anywhere in it.
            manifest_files=tuple(ManifestFile(portable(f), d)
                                 for f, d in zip(manifests.files, manifests.sha256, strict=True)),
            context=self.made_against,
            targets=tuple(targets),
        )
        return self._with_unmanaged(key_set, made)

    def _with_unmanaged(self, key_set: KeySet, made: Plan) -> Plan:
        """The plan with what the key set created but no longer declares (a targeted plan looks no further)."""
        if self.unmanaged is None or made.targets:
            return made
        found = unmanaged_notices(key_set, made, self.unmanaged, self.plugins, parallelism=self.parallelism)
        return dataclasses.replace(made, notices=made.notices + tuple(found))

    def refresh(self, resources: Iterable[Resource], known: LiveState) -> LiveState:
        """Read every resource once what its read needs is known, independent ones in parallel."""
        return Refresh(self.handlers, self.parallelism, self.retry, read=self._read,
                       identity=self._identity, unread=self.unread).run(resources, known)

    def _identity(self, resource: Resource, live: LiveState) -> Mapping[str, Any] | None:
        """The identity to read `resource` by; None when its parent is absent or it is not known yet."""
        if resource.parent and not exists(live.get(resource.parent)):
            return None
        identity = substitute(resource.identity, live)
        return None if contains_unknown(identity) else identity

    def _read(self, resource: Resource, live: LiveState) -> Live | None:
        identity = self._identity(resource, live)
        if identity is None:
            return None
        handler = self.handlers[resource.kind]
        if Capability.READS_DECLARED in handler.capabilities:
            reader = cast(ReadsDeclared, handler)
            found: Live | None = self.retry.call(
                lambda: reader.read_declared(identity=identity, attributes=resource.attributes),
                what=f"reading {resource.address}", subject=resource.address)
        else:
            found = self.retry.call(lambda: handler.read(identity=identity), what=f"reading {resource.address}",
                                    subject=resource.address)
        if found is None and Capability.REPORTS_NAME_HOLDER in handler.capabilities:
            holds = cast(ReportsNameHolder, handler)
            holder = self.retry.call(lambda: holds.held(identity=identity),
                                     what=f"looking up {resource.address}'s name")
            return {HELD: holder} if holder else None
        return found

    def _variable_notices(self, steps: tuple[Step, ...]) -> Iterable[Notice]:
        """Say at plan what apply would only find out after its first changes (some irreversible)."""
        for step, attribute, variable in unset_variables(steps, self.environ):
            yield Notice("W-VARIABLE-UNSET", step.region, f"{describe_unset(step, attribute, variable)}: apply "
                         "reads it to create the object, and refuses to start without it")

    def _notices(self, key_set: KeySet, steps: tuple[Step, ...]) -> Iterable[Notice]:
        run = PlanRun(key_set, self.handlers, self.retry, self.parallelism, frozenset(self.unread or ()))
        return [notice for plugin in self.plugins for notice in plugin.plan_notices(steps, run)]


def unreadable_notices(steps: Iterable[Step]) -> list[Notice]:
    """A declared attribute the read could not read: unknown, so no change is planned to it; say why."""
    return [Notice(UNREADABLE_NOTICE, step.region, f"{step.address}: {name} is unknown (not read, so no change is "
                   f"planned to it): {why}")
            for step in steps for name, why in sorted(((step.live or {}).get(UNREADABLE) or {}).items())]


def rotation_notices(key_set: KeySet) -> list[Notice]:
    return [Notice(warning.rule, region, warning.summary) for region, warning in expiry_warnings(key_set)]


def make_step(resource: Resource, live: LiveState, plugins: PluginTable) -> Step:
    spec = plugins.kinds[resource.kind]
    current = live.get(resource.address)
    attributes = substitute(resource.attributes, live)
    decision = (held_decision(spec, resource, attributes, current[HELD]) if current and HELD in current
                else choose_action(spec, attributes, current, resource.declared, resource.source))
    action, reason, rules = decision.action, decision.reason, decision.rules
    refusal = next((r for p in plugins if current is not None and (r := p.refusal(resource, current))), None)
    if refusal is not None:
        action, reason, rules = Action.FORBIDDEN, f"{refusal.reason} [{refusal.rule}]", (refusal.rule,)
    return Step(
        address=resource.address,
        kind=resource.kind,
        region=resource.region,
        action=action,
        identity=substitute(resource.identity, live),
        attributes=attributes,
        changes=decision.changes,
        depends_on=resource.depends_on,
        irreversible=decision.irreversible,
        reason=reason,
        live=current or {},
        fingerprint=fingerprint(current, spec.endpoints),
        source=resource.source,
        rules=rules,
    )


def exists(live: Live | None) -> bool:
    return live is not None and HELD not in live


def held_decision(spec: KindSpec, resource: Resource, attributes: Mapping[str, Any],
                  holder: Mapping[str, Any]) -> Decision:
    """An absent object whose name a soft-deleted one holds: recovered when declared so, else refused."""
    deleted = (f"the name {resource.identity['name']} is held by a soft-deleted vault (deleted "
               f"{holder.get('deletionDate') or 'at an unknown date'} in {holder.get('location')}, purge scheduled "
               f"{holder.get('scheduledPurgeDate') or 'at an unknown date'})")
    if attributes.get("recover"):
        created = choose_action(spec, attributes, None)
        why = f"{deleted}: recovered with createMode: recover, its keys with it"
        return dataclasses.replace(created, reason="; ".join(filter(None, (why, created.reason))))
    return Decision(Action.FORBIDDEN, (), f"{deleted}: declare `recover: true` on the vault to recover it; "
                    f"cmkctl never purges a vault (declared at {resource.source}) [{NAME_HELD}]", rules=(NAME_HELD,))


def order_steps(steps: list[Step]) -> tuple[Step, ...]:
    by_address = {s.address: s for s in steps}
    layers = graph.layers({s.address: s.depends_on for s in steps})
    return tuple(by_address[address] for layer in layers for address in layer)


def fingerprint(live: Mapping[str, Any] | None, endpoints: frozenset[str] = frozenset()) -> str:
    if live is None:
        return "absent"
    compared = {name: value for name, value in live.items() if name not in endpoints}
    canonical = json.dumps(compared, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def substitute(value: Any, live: LiveState) -> Any:
    """Replace each Unknown whose object now exists by the value read from it."""
    if isinstance(value, Unknown):
        source = live.get(value.address)
        return source[value.attribute] if source and value.attribute in source else value
    if isinstance(value, Mapping):
        return {k: substitute(v, live) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(v, live) for v in value]
    return value


def contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False
