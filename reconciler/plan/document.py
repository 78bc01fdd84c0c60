"""The versioned JSON plan document: what `plan --out` writes, `--format json` prints and renderers read.

The document carries a digest of its own canonical form, so a file corrupted by accident is
refused, and the manifest digest and a fingerprint of every live object read, so a stale one is
too. The digest proves nothing against an edit (anyone can recompute it): apply compares the
saved steps with the plan it makes again (`plan.review`), and an optional signature
(`plan.signing`) says who made the plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from reconciler import __version__
from reconciler.core.errors import StalePlanError
from reconciler.core.secrets import Secret
from reconciler.plan import signing
from reconciler.plan.model import (
    FORMAT_VERSION,
    Action,
    AttributeChange,
    Notice,
    Plan,
    PlanContext,
    Step,
    Unknown,
)

UNKNOWN = "$unknown"


def encode(value: Any) -> Any:
    if isinstance(value, Unknown):
        return {UNKNOWN: f"{value.address}#{value.attribute}"}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {UNKNOWN}:
            address, _, attribute = str(value[UNKNOWN]).rpartition("#")
            return Unknown(address, attribute)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def summary(plan: Plan) -> dict[str, int]:
    counts = {action.value: 0 for action in Action}
    for step in plan.steps:
        counts[step.action.value] += 1
    counts["irreversible"] = sum(1 for s in plan.steps if s.irreversible and s.mutates)
    return counts


def to_document(plan: Plan) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format_version": plan.format_version,
        "cmkctl_version": __version__,
        "key_set": plan.key_set,
        "manifest": {"digest": plan.manifest_digest, "files": list(plan.manifest_files)},
        "context": {"sandbox": plan.context.sandbox, "accounts": dict(plan.context.accounts)},
        **({"targets": list(plan.targets)} if plan.targets else {}),
        # As in `terraform show -json`: false when --target left part of the key set unplanned.
        "complete": not plan.targets,
        "summary": summary(plan),
        "steps": [_step(step) for step in plan.steps],
        "notices": [{"code": n.code, "region": n.region, "level": n.level, "message": n.message}
                    for n in plan.notices],
    }
    document["digest"] = digest(document)
    return document


def _step(step: Step) -> dict[str, Any]:
    return {
        "address": step.address,
        "kind": step.kind,
        "region": step.region,
        "actions": [step.action.value],
        "irreversible": step.irreversible,
        "drift": step.drift,
        "reason": step.reason,
        "depends_on": list(step.depends_on),
        "identity": encode(step.identity),
        "attributes": encode(step.attributes),
        "changes": [{"name": c.name, "before": encode(c.before), "after": encode(c.after)} for c in step.changes],
        "live": encode(step.live),
        "fingerprint": step.fingerprint,
        "source": step.source,
        **({"rules": list(step.rules)} if step.rules else {}),
    }


def digest(document: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(signing.canonical(document)).hexdigest()


def dumps(plan: Plan, *, signing_key: Secret | None = None) -> str:
    """The saved plan's text; signed when a key is given (its value is never written)."""
    document = to_document(plan)
    if signing_key is not None:
        document["signature"] = signing.signature(document, signing_key)
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def from_document(document: Mapping[str, Any], *, where: str = "plan", signing_key: Secret | None = None) -> Plan:
    """The plan a document holds, refused when it was corrupted, written by another format, or
    (with a key) not signed with that key."""
    if document.get("format_version") != FORMAT_VERSION:
        raise StalePlanError(f"{where}: format_version {document.get('format_version')!r} is not "
                             f"{FORMAT_VERSION!r}; plan again with this cmkctl")
    if document.get("digest") != digest(document):
        raise StalePlanError(f"{where}: the plan file was altered after it was written (its digest does not "
                             "match); plan again")
    if signing_key is not None:
        signing.check(document, signing_key, where)
    if "context" not in document:
        raise StalePlanError(f"{where}: the plan does not record what it was made against (an earlier cmkctl "
                             "wrote it); plan again with this cmkctl")
    try:
        return Plan(
            key_set=document["key_set"],
            steps=tuple(_read_step(s) for s in document["steps"]),
            notices=tuple(Notice(n["code"], n["region"], n["message"], n["level"]) for n in document["notices"]),
            manifest_digest=document["manifest"]["digest"],
            manifest_files=tuple(document["manifest"]["files"]),
            targets=tuple(document.get("targets", ())),
            context=_read_context(document["context"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StalePlanError(f"{where}: not a cmkctl plan ({error!r})") from None


def _read_context(raw: Mapping[str, Any]) -> PlanContext:
    sandbox = raw["sandbox"]
    return PlanContext(sandbox=None if sandbox is None else str(sandbox),
                       accounts={str(k): str(v) for k, v in raw["accounts"].items()})


def _read_step(raw: Mapping[str, Any]) -> Step:
    return Step(
        address=raw["address"],
        kind=raw["kind"],
        region=raw["region"],
        action=Action(raw["actions"][0]),
        identity=decode(raw["identity"]),
        attributes=decode(raw["attributes"]),
        changes=tuple(AttributeChange(c["name"], decode(c["before"]), decode(c["after"])) for c in raw["changes"]),
        depends_on=tuple(raw["depends_on"]),
        irreversible=raw["irreversible"],
        reason=raw["reason"],
        live=decode(raw["live"]),
        fingerprint=raw["fingerprint"],
        source=raw["source"],
        rules=tuple(raw.get("rules", ())),
    )


def loads(text: str, *, where: str = "plan", signing_key: Secret | None = None) -> Plan:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise StalePlanError(f"{where}: not a JSON plan ({error.msg} at line {error.lineno})") from None
    if not isinstance(document, dict):
        raise StalePlanError(f"{where}: not a cmkctl plan")
    return from_document(document, where=where, signing_key=signing_key)
