"""Refresh live state through the providers, diff it against the manifest, and build a Plan."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.retry import RetryPolicy
from reconciler.engine import expand, graph
from reconciler.engine.diff import choose_action
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.engine.refresh import Refresh
from reconciler.manifest.loader import LoadedManifests
from reconciler.manifest.model import KeySet
from reconciler.plan.model import Action, Notice, Plan, Resource, Step, Unknown
from reconciler.plan.targets import select
from reconciler.providers.base import Live, ResourceHandler
from reconciler.systems import KINDS

LiveState = dict[str, Live | None]


@dataclass
class Planner:
    handlers: Mapping[str, ResourceHandler]
    # Lists the Astra databases of (cloud, region); None when Astra is not in play.
    astra_databases: Any = None
    parallelism: int = DEFAULT_PARALLELISM
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def plan(self, key_set: KeySet, manifests: LoadedManifests, targets: Sequence[str] = ()) -> Plan:
        lookups = expand.lookups(key_set)
        live = self.refresh(lookups, {})
        answers = {address: obj or {} for address, obj in live.items()}
        desired = expand.resources(key_set, answers)
        if targets:
            desired = select(desired, targets)
        live = self.refresh([r for r in desired if r.address not in live], live)
        steps = order_steps([make_step(resource, live) for resource in desired])
        return Plan(
            key_set=key_set.name,
            steps=steps,
            notices=tuple(self._notices(steps)),
            manifest_digest=manifests.digest,
            manifest_files=manifests.files,
            targets=tuple(targets),
        )

    def refresh(self, resources: Iterable[Resource], known: LiveState) -> LiveState:
        """Read every resource once what its read needs is known, independent ones in parallel."""
        return Refresh(self.handlers, self.parallelism, self.retry, read=self._read,
                       identity=self._identity).run(resources, known)

    def _identity(self, resource: Resource, live: LiveState) -> Mapping[str, Any] | None:
        """The identity to read `resource` by; None when its parent is absent or it is not known yet."""
        if resource.parent and live.get(resource.parent) is None:
            return None
        identity = substitute(resource.identity, live)
        return None if contains_unknown(identity) else identity

    def _read(self, resource: Resource, live: LiveState) -> Live | None:
        identity = self._identity(resource, live)
        if identity is None:
            return None
        handler = self.handlers[resource.kind]
        return self.retry.call(lambda: handler.read(identity=identity), what=f"reading {resource.address}")

    def _notices(self, steps: tuple[Step, ...]) -> Iterable[Notice]:
        new_registrations = [s for s in steps if s.kind == "astra_registration" and s.action is Action.CREATE]
        if not new_registrations or not self.astra_databases:
            return []
        # One list of databases per region, each on its own: side by side, like the refresh's reads
        # (34 regions one after another were 3.4 s of a fleet's first plan).
        with ThreadPoolExecutor(max_workers=max(1, self.parallelism), thread_name_prefix="cmkctl-notice") as pool:
            found = list(pool.map(lambda step: list(self._database_notice(step)), new_registrations))
        return [notice for notices in found for notice in notices]

    def _database_notice(self, step: Step) -> Iterable[Notice]:
        cloud, region = step.identity["cloud"], step.region
        databases = self.retry.call(lambda: self.astra_databases(cloud, region), what="listing Astra databases")
        if databases:
            names = ", ".join(sorted(str(d.get("info", {}).get("name", d.get("id"))) for d in databases))
            yield Notice("W-ASTRA-EXISTING-DATABASES", region, f"{len(databases)} Astra database(s) already "
                         f"deployed in {cloud} {region} ({names}) keep their current key; the key registered "
                         "now protects only databases deployed after it")


def make_step(resource: Resource, live: LiveState) -> Step:
    spec = KINDS[resource.kind]
    current = live.get(resource.address)
    attributes = substitute(resource.attributes, live)
    decision = choose_action(spec, attributes, current)
    action, reason = decision.action, decision.reason
    if spec.read_only and current is not None and not current.get("providerIds", True):
        action, reason = Action.FORBIDDEN, (
            f"Astra lists no {resource.identity['product']} provider ID for {resource.identity['cloud']} region "
            f"{resource.region}: the region is not enabled for this organization (ask DataStax to unlock it)")
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
        fingerprint=fingerprint(current),
        source=resource.source,
    )


def order_steps(steps: list[Step]) -> tuple[Step, ...]:
    by_address = {s.address: s for s in steps}
    layers = graph.layers({s.address: s.depends_on for s in steps})
    return tuple(by_address[address] for layer in layers for address in layer)


def fingerprint(live: Mapping[str, Any] | None) -> str:
    if live is None:
        return "absent"
    canonical = json.dumps(live, sort_keys=True, default=str, separators=(",", ":"))
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
