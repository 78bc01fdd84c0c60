"""Whether a saved plan still describes the world: same manifests, same live objects."""

from __future__ import annotations

from reconciler.plan.model import Plan


def stale_reasons(saved: Plan, fresh: Plan) -> list[str]:
    reasons = []
    if saved.manifest_digest != fresh.manifest_digest:
        reasons.append("the manifests changed since the plan was made")
    fresh_steps = {s.address: s for s in fresh.steps}
    for step in saved.steps:
        now = fresh_steps.pop(step.address, None)
        if now is None:
            reasons.append(f"{step.address} is no longer declared")
        elif now.fingerprint != step.fingerprint:
            reasons.append(f"{step.address} changed since the plan was made")
    reasons += [f"{address} is new since the plan was made" for address in sorted(fresh_steps)]
    return reasons


def world_changed(saved: Plan, fresh: Plan) -> bool:
    """The manifests, or a live object both plans read, changed: what a plan cannot be edited into."""
    if saved.manifest_digest != fresh.manifest_digest:
        return True
    read_now = {s.address: s.fingerprint for s in fresh.steps}
    return any(read_now.get(s.address, s.fingerprint) != s.fingerprint for s in saved.steps)
