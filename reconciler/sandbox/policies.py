"""A rotation policy as Key Vault checks and stores it, whether it arrives through ARM or the data plane."""

from __future__ import annotations

from typing import Any

from reconciler.manifest.rotation import parse_duration
from reconciler.sandbox.wire import Refusal, Reply

ACTION_TYPES = {"rotate": "Rotate", "notify": "Notify"}


def _refuse(code: str, message: str) -> Refusal:
    return Refusal(Reply(400, {"error": {"code": code, "message": message}}))


def checked_policy(body: dict[str, Any]) -> dict[str, Any]:
    """The policy as stored (action types spelled as the data plane spells them), or a 400."""
    expiry = (body.get("attributes") or {}).get("expiryTime")
    actions = [_checked_action(a) for a in body.get("lifetimeActions") or []]
    if expiry is not None:
        _duration(expiry, "attributes.expiryTime")
    rotations = [a for a in actions if a["action"]["type"] == "Rotate"]
    if len(rotations) > 1:
        raise _refuse("BadParameter", "A rotation policy may hold only one Rotate action.")
    if any("timeBeforeExpiry" in a["trigger"] for a in actions) and expiry is None:
        raise _refuse("BadParameter", "A timeBeforeExpiry trigger needs attributes.expiryTime.")
    return {"lifetimeActions": actions, "attributes": {"expiryTime": expiry} if expiry else {}}


def _checked_action(given: Any) -> dict[str, Any]:
    trigger = given.get("trigger") if isinstance(given, dict) else None
    kind = ACTION_TYPES.get(str(((given or {}).get("action") or {}).get("type", "")).lower())
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
