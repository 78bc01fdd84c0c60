"""Choosing an action: one pure function over (declared, live, what the kind allows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.kinds import KindSpec
from reconciler.plan.model import Action, AttributeChange, Unknown


@dataclass(frozen=True)
class Decision:
    action: Action
    changes: tuple[AttributeChange, ...] = ()
    reason: str = ""
    irreversible: bool = False


def matches(declared: Any, live: Any) -> bool:
    """Whether the live value satisfies the declared one.

    Only what is declared counts: a declared mapping is satisfied by a live mapping holding at
    least those entries, so server defaults and tags added by others never show as changes.
    """
    if isinstance(declared, Unknown):
        return False
    if isinstance(declared, Mapping):
        return isinstance(live, Mapping) and all(matches(v, live.get(k)) for k, v in declared.items())
    if isinstance(declared, str) and isinstance(live, str):
        return declared.lower() == live.lower() if _case_insensitive(declared) else declared == live
    return bool(declared == live)


def _case_insensitive(value: str) -> bool:
    # Azure echoes locations and resource IDs in whatever case it stored them.
    return value.startswith("/subscriptions/") or value.isalnum()


def choose_action(spec: KindSpec, declared: Mapping[str, Any], live: Mapping[str, Any] | None) -> Decision:
    if spec.read_only:
        return Decision(Action.READ)
    if live is None:
        changes = tuple(AttributeChange(name, None, value) for name, value in declared.items())
        why = [spec.irreversible_create] if spec.irreversible_create else []
        why += [reason for name, reason in spec.irreversible_attributes.items() if declared.get(name) is True]
        return Decision(Action.CREATE, changes, "; ".join(why), bool(why))
    changes = tuple(
        AttributeChange(name, live.get(name), value)
        for name, value in declared.items()
        if name not in spec.create_only and not matches(value, live.get(name))
    )
    if not changes:
        return Decision(Action.NOOP)
    refusals = [_refusal(spec, change) for change in changes]
    if any(refusals):
        return Decision(Action.FORBIDDEN, changes, "; ".join(r for r in refusals if r))
    irreversible = [spec.irreversible_attributes[c.name] for c in changes if c.name in spec.irreversible_attributes]
    return Decision(Action.UPDATE, changes, "; ".join(irreversible), bool(irreversible))


def _refusal(spec: KindSpec, change: AttributeChange) -> str:
    if change.name in spec.immutable:
        return f"{change.name}: {spec.immutable[change.name]} ({_was_and_wanted(change)})"
    if change.name in spec.irreversible_attributes and change.before:
        return f"{change.name}: {spec.irreversible_attributes[change.name]} ({_was_and_wanted(change)})"
    return ""


def _was_and_wanted(change: AttributeChange) -> str:
    wanted = "a value known only after apply" if isinstance(change.after, Unknown) else repr(change.after)
    return f"live: {change.before!r}, declared: {wanted}"
