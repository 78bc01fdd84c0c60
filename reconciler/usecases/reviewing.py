"""A saved plan at apply: made here, signed when a key asks for it, and exactly the plan made again now.

What protects what (README, "Saved plans"): the digest catches a file corrupted by accident; the
comparison of steps refuses any edit, since the steps must equal the plan made now from the same
manifests and live state; the signature, when a key is set, says the plan was made by a holder
of the key; the context refuses a plan made against a sandbox at real endpoints, and the reverse.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.core.errors import CmkError, StalePlanError, UnreviewedPlanError
from reconciler.core.printable import quoted
from reconciler.core.secrets import Secret
from reconciler.core.settings import Settings
from reconciler.manifest.checkout import located
from reconciler.manifest.loader import Acceptance
from reconciler.manifest.model import KeySet
from reconciler.plan.model import Plan
from reconciler.plan.review import differences
from reconciler.plan.staleness import stale_reasons, world_changed
from reconciler.usecases.session import RunOptions, context_of, sandbox_of

SIGNING_KEY_VARIABLE = "CMKCTL_PLAN_SIGNING_KEY"


def plan_signing_key(settings: Settings) -> Secret | None:
    """The key that signs saved plans and that apply checks them with; unset (or empty): no signing."""
    return settings.secret(SIGNING_KEY_VARIABLE)


def saved_manifests(saved: Plan, plan_file: Path | None = None) -> list[str]:
    """The saved plan's manifests as paths from here (relative ones read better in diagnostics),
    each refused unless it can be a reviewed manifest of this checkout (`checkout.located`)."""
    names = [file.path for file in saved.manifest_files]
    if not names:
        raise UnreviewedPlanError(f"{plan_file}: the plan names no manifest; nothing was read or changed")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UnreviewedPlanError(f"{plan_file}: the plan names the manifest {quoted(twice[0])} twice; nothing was "
                                  "read or changed")
    return [os.path.relpath(located(name, plan=plan_file)) for name in names]


def reviewed_content(saved: Plan, paths: Sequence[str]) -> Acceptance:
    """A check of each manifest's bytes against the SHA-256 the plan recorded, before they are parsed:
    apply re-plans from the files that were reviewed, not from whatever now holds their names."""
    expected = {Path(path).resolve(): file for path, file in zip(paths, saved.manifest_files, strict=True)}

    def accept(path: Path, content: bytes) -> None:
        file = expected.get(path.resolve())
        if file is None:
            raise UnreviewedPlanError(f"{path} is not a manifest the plan names; nothing was changed")
        found = hashlib.sha256(content).hexdigest()
        if not hmac.compare_digest(found, file.sha256):
            raise StalePlanError(f"{file.path}: its content is not what the plan was made from (SHA-256 {found}, "
                                 f"the plan recorded {quoted(file.sha256)}): plan again; nothing in it was parsed "
                                 "and nothing was changed")

    return accept


def refuse_elsewhere(saved: Plan, key_set: KeySet, options: RunOptions, path: Path | None) -> None:
    """Refuse a plan made against a sandbox at the real control planes, the reverse, or other accounts."""
    made, now = saved.context.sandbox, sandbox_of(options)
    if made != now:
        raise CmkError(f"{path}: {_elsewhere(made, now)}; nothing was changed")
    accounts = context_of(key_set, options).accounts
    if dict(saved.context.accounts) != dict(accounts):
        raise StalePlanError(f"{path}: the plan targets the accounts {_named(saved.context.accounts)}; the "
                             f"manifests now name {_named(accounts)}: plan again")


def _elsewhere(made: str | None, now: str | None) -> str:
    if made is None:
        return (f"the plan was made against the real control planes, and this apply runs against the sandbox "
                f"in {now}: apply it without --sandbox, or plan again with --sandbox")
    if now is None:
        return (f"the plan was made against the sandbox in {made}, and this apply would run against the real "
                f"control planes: apply it with --sandbox {made}, or plan again without --sandbox")
    return f"the plan was made against the sandbox in {made}, not the one in {now}: apply it with --sandbox {made}"


def _named(accounts: Mapping[str, str]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(accounts.items())) or "(none)"


def refuse_unreviewed(saved: Plan, fresh: Plan, path: Path | None) -> None:
    """Refuse a saved plan gone stale, or whose steps are not the ones planned now (it was edited)."""
    if world_changed(saved, fresh):
        reasons = stale_reasons(saved, fresh)
        raise StalePlanError(f"{path}: the plan is stale, plan again:\n" + "\n".join(f"  - {r}" for r in reasons))
    differing = differences(saved, fresh)
    if differing:
        raise UnreviewedPlanError(
            f"{path}: the plan's steps are not the steps cmkctl plans now from the same manifests and live "
            "state, so the file was edited after it was made; nothing was changed:\n"
            + "\n".join(f"  - {line}" for line in differing))
