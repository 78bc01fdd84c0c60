"""Choosing an action: one pure function over (declared, live, what the kind allows)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.kinds import KindSpec
from reconciler.plan.model import UNREADABLE, Action, AttributeChange, Declared, Unknown

IMMUTABLE_RULE = "R-IMMUTABLE"


@dataclass(frozen=True)
class Decision:
    action: Action
    changes: tuple[AttributeChange, ...] = ()
    reason: str = ""
    irreversible: bool = False
    rules: tuple[str, ...] = ()


def matches(declared: Any, live: Any, *, path: str = "", case_insensitive: frozenset[str] = frozenset()) -> bool:
    """Whether the live value satisfies the declared one.

    Only what is declared counts: a declared mapping is satisfied by a live mapping holding at
    least those entries, so server defaults and tags added by others never show as changes.
    Strings are compared exactly, except at the dotted paths in `case_insensitive`.
    """
    if isinstance(declared, Unknown):
        return False
    if isinstance(declared, Mapping):
        return isinstance(live, Mapping) and all(
            matches(v, live.get(k), path=f"{path}.{k}" if path else str(k), case_insensitive=case_insensitive)
            for k, v in declared.items())
    if isinstance(declared, str) and isinstance(live, str) and path in case_insensitive:
        return declared.casefold() == live.casefold()
    return bool(declared == live)


def choose_action(spec: KindSpec, declared: Mapping[str, Any], live: Mapping[str, Any] | None,
                  words: Mapping[str, Declared] | None = None, source: str = "") -> Decision:
    """`words` and `source` say how and where the manifest declares each attribute, for refusals."""
    if spec.read_only:
        return Decision(Action.READ)
    if live is None:
        changes = tuple(AttributeChange(name, None, value) for name, value in declared.items())
        why = [spec.irreversible_create] if spec.irreversible_create else []
        why += [reason for name, reason in spec.irreversible_attributes.items() if declared.get(name) is True]
        return Decision(Action.CREATE, changes, "; ".join(why), bool(why))
    unreadable = live.get(UNREADABLE) or {}  # unknown, not different: the planner warns instead
    changes = tuple(
        AttributeChange(name, live.get(name), value)
        for name, value in declared.items()
        if name not in spec.create_only and name not in unreadable
        and not matches(value, live.get(name), path=name, case_insensitive=spec.case_insensitive)
    )
    if not changes:
        return Decision(Action.NOOP)
    refused = [(c, reason) for c in changes if (reason := _refused(spec, c, live))]
    if refused:
        rules = tuple(dict.fromkeys(spec.rules.get(c.name, IMMUTABLE_RULE) for c, _ in refused))
        reasons = [_refusal(spec, c, reason, (words or {}).get(c.name), source) for c, reason in refused]
        return Decision(Action.FORBIDDEN, changes, "; ".join(reasons), rules=rules)
    irreversible = [spec.irreversible_attributes[c.name] for c in changes if c.name in spec.irreversible_attributes]
    notes = dict.fromkeys(spec.change_notes[c.name] for c in changes if c.name in spec.change_notes)
    return Decision(Action.UPDATE, changes, "; ".join([*irreversible, *notes]), bool(irreversible))


def _refused(spec: KindSpec, change: AttributeChange, live: Mapping[str, Any]) -> str:
    """Why the plane would refuse (or should never be asked) to make `change`; "" when it may."""
    if change.name in spec.immutable:
        return spec.immutable[change.name]
    if change.name in spec.irreversible_attributes and change.before:
        return spec.irreversible_attributes[change.name]
    guard = spec.guards.get(change.name)
    return guard(change.before, change.after, live) if guard is not None else ""


def _refusal(spec: KindSpec, change: AttributeChange, why: str, words: Declared | None, source: str) -> str:
    rule = spec.rules.get(change.name, IMMUTABLE_RULE)
    return f"{change.name}: {why} ({_live_and_declared(spec, change, words, source)}) [{rule}]"


def _live_and_declared(spec: KindSpec, change: AttributeChange, words: Declared | None, source: str) -> str:
    """Both values as JSON, the declared one in the manifest's own field and words, with its line."""
    live = spec.live_null.get(change.name) if change.before is None else None
    words = words or Declared(change.name, change.after, source)
    declared = "(known after apply)" if isinstance(words.value, Unknown) else json.dumps(words.value, default=str)
    where = f" at {words.location}" if words.location else ""
    return f"live: {json.dumps(live or change.before, default=str)}; declared{where} as {words.field}: {declared}"
