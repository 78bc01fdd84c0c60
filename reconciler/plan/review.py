"""Whether a saved plan's steps are exactly the steps planned again now: the reviewed plan, unedited.

The steps are compared in everything the executor acts on (address, kind, region, action,
identity, attributes, changes, dependencies) and what a reviewer judged by (irreversible, the
rules). Explanations (`reason`, `source`) and what `plan.staleness` already compares are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.plan.document import encode
from reconciler.plan.model import Plan, Step


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """One line per step that differs: only in the saved plan, only in the fresh one, or changed."""
    now = {step.address: step for step in fresh.steps}
    found = []
    for step in saved.steps:
        planned = now.pop(step.address, None)
        if planned is None:
            found.append(f"{step.address}: in the saved plan, not in the plan made now")
        else:
            fields = _differing_fields(step, planned)
            if fields:
                found.append(f"{step.address}: {', '.join(fields)} differ from the plan made now")
    found += [f"{address}: in the plan made now, not in the saved plan" for address in sorted(now)]
    return found


def _differing_fields(saved: Step, fresh: Step) -> list[str]:
    ours, theirs = reviewed(saved), reviewed(fresh)
    return [name + _which(ours[name], theirs[name]) for name in ours
            if _canonical(ours[name]) != _canonical(theirs[name])]


def _which(ours: Any, theirs: Any) -> str:
    """The attributes that differ, when both sides name them: `attributes (keySize)`."""
    if not (isinstance(ours, Mapping) and isinstance(theirs, Mapping)):
        return ""
    names = sorted(k for k in {*ours, *theirs} if _canonical(ours.get(k)) != _canonical(theirs.get(k)))
    return f" ({', '.join(names)})"


def reviewed(step: Step) -> Mapping[str, Any]:
    """The parts of a step that must be what was reviewed."""
    return {
        "kind": step.kind,
        "region": step.region,
        "action": step.action.value,
        "identity": encode(step.identity),
        "attributes": encode(step.attributes),
        "changes": {c.name: [encode(c.before), encode(c.after)] for c in step.changes},
        "depends_on": list(step.depends_on),
        "irreversible": step.irreversible,
        "rules": list(step.rules),
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
