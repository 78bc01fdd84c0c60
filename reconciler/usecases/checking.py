"""Check this key set: the health of every declared consumer's key path, from one plan's reads.

Read-only: the plan's refresh reads each object once and the health is judged from what it read
(reconciler.plan.health), so a check costs no call a plan would not make. A read that fails is
reported on the paths through it instead of failing the check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.manifest.loader import LoadedManifests
from reconciler.manifest.model import KeySet
from reconciler.plan.health import DEFAULT_EXPIRY_WARNING_DAYS, Clock, Health, evaluate
from reconciler.plan.model import Plan
from reconciler.usecases.planning import plan_with
from reconciler.usecases.session import RunOptions, handlers_for

if TYPE_CHECKING:
    from reconciler.providers.registry import Handlers


@dataclass(frozen=True)
class Checked:
    plan: Plan
    health: Health


def check_key_set(key_set: KeySet, loaded: LoadedManifests, options: RunOptions, *,
                  expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS, now: int | None = None) -> Checked:
    with handlers_for(key_set, options) as handlers:
        return check_with(handlers, key_set, loaded, options, Clock(_now(now), expiry_warning_days))


def check_with(handlers: Handlers, key_set: KeySet, loaded: LoadedManifests, options: RunOptions,
               clock: Clock) -> Checked:
    """One plan through handlers the caller holds open, and the health judged from its reads."""
    unread: dict[str, str] = {}
    made = plan_with(handlers, key_set, loaded, options, (), unread=unread)
    return Checked(made, evaluate(made, unread, clock, options.plugins.health))


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now
