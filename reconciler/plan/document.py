"""The versioned JSON plan document: what `plan --out` writes, `--format json` prints and renderers read.

The document carries a digest of its own canonical form, so a file corrupted by accident is
refused, and the manifest digest and a fingerprint of every live object read, so a stale one is
too. The digest proves nothing against an edit (anyone can recompute it): apply compares the
saved steps with the plan it makes again (`plan.review`), and an optional signature
(`plan.signing`) says who made the plan.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from reconciler import __version__
from reconciler.core.errors import StalePlanError
from reconciler.core.printable import cut, quoted
from reconciler.core.secrets import Secret
from reconciler.plan import signing
from reconciler.plan.model import (
    FORMAT_HISTORY,
    FORMAT_VERSION,
    Action,
    AttributeChange,
    ManifestFile,
    Notice,
    Plan,
    PlanContext,
    Step,
    Unknown,
)

UNKNOWN = "$unknown"
SCHEMA_NAME = "plan.v1.json"
# A fleet of 10,000 objects saves ~18 MB; more is not a plan cmkctl wrote.
MAX_PLAN_BYTES = 64 * 1024 * 1024
# A plan nests about 10 levels (steps, attributes, a key policy's Condition); more is not one cmkctl wrote.
MAX_PLAN_DEPTH = 64


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
        "manifest": {"digest": plan.manifest_digest,
                     "files": [{"path": f.path, "sha256": f.sha256} for f in plan.manifest_files]},
        "context": {"sandbox": plan.context.sandbox, "accounts": dict(plan.context.accounts)},
        **({"targets": list(plan.targets)} if plan.targets else {}),
        # As in `terraform show -json`: false when --target left part of the key set unplanned.
        "complete": not plan.targets,
        # A forbidden plan is saved for review: apply refuses it, and the file says so itself.
        "applicable": not plan.forbidden,
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
    return document_text(to_document(plan), signing_key=signing_key)


def document_text(document: Mapping[str, Any], *, signing_key: Secret | None = None) -> str:
    """A plan document's saved text (`to_document`'s, left as it is); signed when a key is given."""
    if signing_key is not None:
        document = {**document, "signature": signing.signature(document, signing_key)}
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def from_document(document: Mapping[str, Any], *, where: str = "plan", signing_key: Secret | None = None) -> Plan:
    """The plan a document holds, refused when it was corrupted, written by another format, shaped
    otherwise than the plan schema says, or (with a key) not signed with that key."""
    _refuse_other_format(document, where)
    if document.get("digest") != digest(document):
        raise StalePlanError(f"{where}: the plan file was altered after it was written (its digest does not "
                             "match); plan again")
    if signing_key is not None:
        signing.check(document, signing_key, where)
    if "context" not in document:
        raise StalePlanError(f"{where}: the plan does not record what it was made against (an earlier cmkctl "
                             "wrote it); plan again with this cmkctl")
    _refuse_misshapen(document, where)
    try:
        return Plan(
            key_set=document["key_set"],
            steps=tuple(_read_step(s) for s in document["steps"]),
            notices=tuple(Notice(n["code"], n["region"], n["message"], n["level"]) for n in document["notices"]),
            manifest_digest=document["manifest"]["digest"],
            manifest_files=tuple(ManifestFile(f["path"], f["sha256"]) for f in document["manifest"]["files"]),
            targets=tuple(document.get("targets", ())),
            context=_read_context(document["context"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StalePlanError(f"{where}: not a cmkctl plan ({quoted(error)})") from None


def _refuse_other_format(document: Mapping[str, Any], where: str) -> None:
    """A plan of another format than this cmkctl's is refused, saying what changed since (FORMAT_HISTORY)."""
    found = document.get("format_version")
    if found == FORMAT_VERSION:
        return
    versions = [version for version, _ in FORMAT_HISTORY]
    if isinstance(found, str) and found in versions:
        since = "; ".join(f"{version} {what}" for version, what in FORMAT_HISTORY[versions.index(found) + 1:])
        raise StalePlanError(f"{where}: the plan's format_version is {quoted(found)}, and this cmkctl reads format "
                             f"{FORMAT_VERSION} only (since {found}: {since}): plan again with this cmkctl")
    named = " has no format_version" if found is None else f"'s format_version is {quoted(found)}"
    raise StalePlanError(f"{where}: the plan{named}, a format this cmkctl does not know (it reads format "
                         f"{FORMAT_VERSION} only; the plan says cmkctl "
                         f"{quoted(document.get('cmkctl_version'), 40)} wrote it): apply it with the cmkctl that "
                         "wrote it, or plan again with this one")


def _refuse_misshapen(document: Mapping[str, Any], where: str) -> None:
    """A document that is not shaped as `cmkctl schema --plan` says is refused here, with where it
    first differs, rather than failing wherever a renderer or apply meets the odd value."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(_plan_schema())
    error = next(iter(sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))), None)
    if error is not None:
        at = "/".join(map(str, error.absolute_path)) or "(the document)"
        raise StalePlanError(f"{where}: not a cmkctl plan: at {quoted(at)}, {cut(str(error.message), 200)} (see "
                             "`cmkctl schema --plan`); plan again")


@functools.cache
def _plan_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resources.files("reconciler.plan").joinpath(SCHEMA_NAME).read_text("utf-8"))
    return schema


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


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys; a person, or another parser, may read the first: a
    # signature over the parsed document would then vouch for what nobody reviewed.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def loads(text: str, *, where: str = "plan", signing_key: Secret | None = None) -> Plan:
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as twice:
        raise StalePlanError(f"{where}: the key {quoted(str(twice))} appears twice in one object of the plan; a "
                             "saved plan never repeats a key (a reader could see either copy): plan again") from None
    except json.JSONDecodeError as error:
        raise StalePlanError(f"{where}: not a JSON plan ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise StalePlanError(f"{where}: not a cmkctl plan: nested more than {MAX_PLAN_DEPTH} levels deep") from None
    if not isinstance(document, dict):
        raise StalePlanError(f"{where}: not a cmkctl plan")
    if _depth(document) > MAX_PLAN_DEPTH:
        raise StalePlanError(f"{where}: not a cmkctl plan: nested more than {MAX_PLAN_DEPTH} levels deep")
    return from_document(document, where=where, signing_key=signing_key)


def _depth(document: Any) -> int:
    """How deeply `document` nests, counted without recursion (a hostile plan may nest thousands deep)."""
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)
    return deepest
