"""An Azure key's rotation policy as the manifest declares it, and what Key Vault makes of it.

Durations stay the ISO 8601 strings the user wrote (Key Vault takes and returns them as text);
they are parsed only to check them and to compare their lengths.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import isodate

EXPIRY_RULE = "W-ROTATION-EXPIRY"
EXPIRY_REFUSAL_RULE = "R-ROTATION-EXPIRY"
# A version that expires, with no rotation before it, sooner than this after it is made is near its
# expiry from its first day: inside the window in which `cmkctl check` warns (its --expiry-warning
# default) and Key Vault's default policy notifies (30 days before expiry). Its consumers would be
# handed a key already failing; that is refused, a longer life only warned of.
EXPIRY_FLOOR = datetime.timedelta(days=30)
LIMITS_RULE = "R-ROTATION-LIMITS"

# Key Vault's limits on a rotation policy, which it refuses to store otherwise. The expiry: the
# 7.5 data-plane definition, KeyRotationPolicyAttributes.expiryTime, "should be at least 28 days".
# The triggers: "the minimum value is seven days from creation and seven days from expiration time"
# (Microsoft Learn, "Configure cryptographic key auto-rotation in Azure Key Vault", Rotation time).
MINIMUM_EXPIRY = datetime.timedelta(days=28)
MINIMUM_TRIGGER = datetime.timedelta(days=7)

# Durations with years or months have no fixed length; they are measured from this day.
_MEASURED_FROM = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)

# The fields of the canonical policy, manifest names: the planner compares these, never the
# Key Vault document (whose lifetimeActions come back in any order).
POLICY_FIELDS = ("rotateAfter", "rotateBeforeExpiry", "expiresAfter", "notifyBefore")


@dataclass(frozen=True)
class RotationPolicy:
    rotate_after: str | None = None
    rotate_before_expiry: str | None = None
    expires_after: str | None = None
    notify_before: str | None = None

    def canonical(self) -> dict[str, str | None]:
        """The declared policy as the planner diffs it: every field, None where not declared."""
        values = (self.rotate_after, self.rotate_before_expiry, self.expires_after, self.notify_before)
        return {name: value.upper() if value else None for name, value in zip(POLICY_FIELDS, values, strict=True)}


def parse_duration(text: str) -> datetime.timedelta:
    """The length of an ISO 8601 duration; ValueError when it is not one, or not positive."""
    try:
        parsed = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as e:
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. P90D, P1Y, P1Y6M)") from e
    length: datetime.timedelta = (_MEASURED_FROM + parsed) - _MEASURED_FROM
    if length <= datetime.timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return length


def limit_problems(policy: RotationPolicy) -> list[tuple[str, str]]:
    """(field, why) for each duration Key Vault would refuse; the durations are known to parse."""
    found: list[tuple[str, str]] = []
    expires = parse_duration(policy.expires_after) if policy.expires_after else None
    if expires is not None and expires < MINIMUM_EXPIRY:
        found.append(("expiresAfter", f"expiresAfter {policy.expires_after} is shorter than 28 days, Key Vault's "
                                      "least expiryTime for a rotation policy"))
    if policy.rotate_after and parse_duration(policy.rotate_after) < MINIMUM_TRIGGER:
        found.append(("rotateAfter", f"rotateAfter {policy.rotate_after} is shorter than 7 days: Key Vault rotates "
                                     "a key 7 days after its creation at the earliest"))
    for name, value in (("rotateBeforeExpiry", policy.rotate_before_expiry), ("notifyBefore", policy.notify_before)):
        if value is None:
            continue
        before = parse_duration(value)
        if before < MINIMUM_TRIGGER:
            found.append((name, f"{name} {value} is shorter than 7 days: Key Vault acts 7 days before expiry at the "
                                "latest"))
        elif expires is not None and expires - before < MINIMUM_TRIGGER:
            found.append((name, f"{name} {value} with expiresAfter {policy.expires_after} comes less than 7 days "
                                "after a version's creation: Key Vault acts 7 days after creation at the earliest"))
    return found


def expiry_warning(policy: RotationPolicy | None) -> str:
    """Why the key will expire before any rotation replaces it; empty when a rotation comes first
    (or when the expiry is so near that `expiry_refusal` refuses it instead)."""
    if policy is None or policy.expires_after is None or expiry_refusal(policy):
        return ""
    return _unrotated_expiry(policy)


def expiry_refusal(policy: RotationPolicy | None) -> str:
    """Why the key's versions would expire, unrotated, within EXPIRY_FLOOR of being made; empty otherwise."""
    if policy is None or policy.expires_after is None or not _unrotated_expiry(policy):
        return ""
    if parse_duration(policy.expires_after) >= EXPIRY_FLOOR:
        return ""
    return (f"each version expires {policy.expires_after} after it is made and no rotation replaces it first: "
            f"its consumers would get a key near expiry from its first day; give expiresAfter of at least "
            f"P{EXPIRY_FLOOR.days}D, or a rotation before expiry (rotateAfter shorter than expiresAfter, or "
            "rotateBeforeExpiry)")


def _unrotated_expiry(policy: RotationPolicy) -> str:
    assert policy.expires_after is not None
    if policy.rotate_after is None and policy.rotate_before_expiry is None:
        return (f"the key expires {policy.expires_after} after each version is created but no rotation is "
                "declared: its consumers lose it on expiry (add rotateAfter or rotateBeforeExpiry)")
    if policy.rotate_after is not None and parse_duration(policy.rotate_after) >= parse_duration(policy.expires_after):
        return (f"rotateAfter {policy.rotate_after} is not shorter than expiresAfter {policy.expires_after}: "
                "each version expires before the next one is made")
    return ""


def policy_from_key_vault(document: Mapping[str, Any] | None) -> dict[str, str | None]:
    """A Key Vault rotation policy (wire form) in the canonical form; all None for no policy."""
    found: dict[str, str | None] = dict.fromkeys(POLICY_FIELDS)
    document = document or {}
    expiry = (document.get("attributes") or {}).get("expiryTime")
    found["expiresAfter"] = expiry.upper() if expiry else None
    for action in document.get("lifetimeActions") or []:
        kind = str((action.get("action") or {}).get("type", "")).lower()
        trigger = action.get("trigger") or {}
        if kind == "rotate" and trigger.get("timeAfterCreate"):
            found["rotateAfter"] = str(trigger["timeAfterCreate"]).upper()
        elif kind == "rotate" and trigger.get("timeBeforeExpiry"):
            found["rotateBeforeExpiry"] = str(trigger["timeBeforeExpiry"]).upper()
        elif kind == "notify" and trigger.get("timeBeforeExpiry"):
            found["notifyBefore"] = str(trigger["timeBeforeExpiry"]).upper()
    return found


def policy_to_key_vault(canonical: Mapping[str, Any], *, action_case: str = "Rotate") -> dict[str, Any]:
    """The canonical policy as Key Vault's wire form; `action_case` spells the action types
    (the data plane writes `Rotate`, ARM's KeyProperties `rotate`)."""
    rotate, notify = (action_case, "Notify") if action_case[0].isupper() else (action_case, "notify")
    actions: list[dict[str, Any]] = []
    if canonical.get("rotateAfter"):
        actions.append({"trigger": {"timeAfterCreate": canonical["rotateAfter"]}, "action": {"type": rotate}})
    if canonical.get("rotateBeforeExpiry"):
        actions.append({"trigger": {"timeBeforeExpiry": canonical["rotateBeforeExpiry"]}, "action": {"type": rotate}})
    if canonical.get("notifyBefore"):
        actions.append({"trigger": {"timeBeforeExpiry": canonical["notifyBefore"]}, "action": {"type": notify}})
    document: dict[str, Any] = {"lifetimeActions": actions}
    if canonical.get("expiresAfter"):
        document["attributes"] = {"expiryTime": canonical["expiresAfter"]}
    return document
