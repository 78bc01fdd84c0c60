"""`--target`: limit a plan to some objects and everything they depend on."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from reconciler.core.errors import CmkError
from reconciler.plan.model import Notice, Resource

PARTIAL_PLAN = "W-PARTIAL-PLAN"


class TargetError(CmkError):
    """A --target names no declared object."""


def _named_by(target: str, address: str) -> bool:
    # A target names an address or everything below it: `azure_vault.eastus` takes every vault there.
    return address == target or address.startswith((f"{target}.", f"{target}/"))


def partial_plan_notice(targets: Sequence[str]) -> Notice:
    """What a targeted plan must say of itself, as Terraform's does: it is not the whole key set."""
    return Notice(PARTIAL_PLAN, "", f"the plan is partial: --target limits it to {', '.join(targets)} and what "
                  "that depends on, so it may not show every change the manifests call for; plan without --target "
                  "to see them all (--target is for exceptional cases, not routine use)")


def select(resources: Sequence[Resource], targets: Iterable[str]) -> list[Resource]:
    by_address = {r.address: r for r in resources}
    wanted: set[str] = set()
    for target in targets:
        named = {address for address in by_address if _named_by(target, address)}
        if not named:
            close = difflib.get_close_matches(target, by_address, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise TargetError(f"--target {target!r} names no object of the key set{hint}")
        wanted |= named
    frontier = set(wanted)
    while frontier:
        frontier = {d for a in frontier for d in by_address[a].depends_on if d in by_address} - wanted
        wanted |= frontier
    return [r for r in resources if r.address in wanted]
