"""A rotation policy as Key Vault checks and stores it, whether it arrives through ARM or the data plane."""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox.durations import parse_duration
from cmkctl_sandbox.wire import Refusal, Reply

ACTION_TYPES = {"rotate": "Rotate", "notify": "Notify"}


def _refuse(code: str, message: str) -> Refusal:
    return Refusal(Reply(400, {"error": {"code": code, "message": message}}))


def _shaped(value: Any, kind: type, field: str) -> Any:
    """`value` when it is of the JSON type KeyRotationPolicy gives `field` (absent or null reads as empty)."""
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise _refuse("BadParameter", f"{field} must be a JSON {'array' if kind is list else 'object'}.")
    return value


def checked_policy(body: Any) -> dict[str, Any]:
    """The policy as stored (action types spelled as the data plane spells them), or a 400."""
    if not isinstance(body, dict):
        raise _refuse("BadParameter", "The rotation policy must be a JSON object.")
    policy: dict[str, Any] = body
    expiry = _shaped(policy.get("attributes"), dict, "attributes").get("expiryTime")
    actions = [_checked_action(a) for a in _shaped(policy.get("lifetimeActions"), list, "lifetimeActions")]
    if expiry is not None:
        _duration(expiry, "attributes.expiryTime")
    for kind in ACTION_TYPES.values():
        # "lifetimeActions can only have two items at maximum: one for rotate, one for notify" (KeyRotationPolicy)
        if sum(a["action"]["type"] == kind for a in actions) > 1:
            raise _refuse("BadParameter", f"A rotation policy may hold only one {kind} action.")
    if any("timeBeforeExpiry" in a["trigger"] for a in actions) and expiry is None:
        raise _refuse("BadParameter", "A timeBeforeExpiry trigger needs attributes.expiryTime.")
    return {"lifetimeActions": actions, "attributes": {"expiryTime": expiry} if expiry else {}}


def _checked_action(given: Any) -> dict[str, Any]:
    trigger = given.get("trigger") if isinstance(given, dict) else None
    action = _shaped(given.get("action"), dict, "action") if isinstance(given, dict) else {}
    kind = ACTION_TYPES.get(str(action.get("type", "")).lower())
    if not isinstance(trigger, dict) or kind is None:
        raise _refuse("BadParameter", "Each lifetime action needs a trigger and an action type of Rotate or Notify.")
    named = {name: trigger[name] for name in ("timeAfterCreate", "timeBeforeExpiry") if trigger.get(name)}
    if len(named) != 1:
        raise _refuse("BadParameter", "A trigger takes exactly one of timeAfterCreate and timeBeforeExpiry.")
    if kind == "Notify" and "timeAfterCreate" in named:
        raise _refuse("BadParameter", "A Notify action takes only a timeBeforeExpiry trigger.")
    for name, value in named.items():
        _duration(value, f"trigger.{name}")
    return {"trigger": named, "action": {"type": kind}}


def _duration(value: Any, field: str) -> None:
    try:
        parse_duration(str(value))
    except ValueError as e:
        raise _refuse("BadParameter", f"{field}: {e}") from e
