"""Plan this key set: read live state, diff it against the manifest, report what it no longer declares.

Also the checks every front end makes on a plan before acting on it: forbidden, stale, readable.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.core.errors import CmkError, ForbiddenError, StalePlanError
from reconciler.core.secrets import Secret
from reconciler.core.userfiles import UnreadableFile, read_regular
from reconciler.manifest.checkout import saveable
from reconciler.manifest.loader import LoadedManifests
from reconciler.manifest.model import KeySet
from reconciler.manifest.yamlsource import STDIN_NAME
from reconciler.plan import document as plandoc
from reconciler.plan.model import Plan
from reconciler.usecases.session import RunContext, RunLock, RunOptions, open_run

if TYPE_CHECKING:
    from reconciler.providers.registry import Handlers


def plan_key_set(key_set: KeySet, loaded: LoadedManifests, options: RunOptions, targets: Sequence[str] = (), *,
                 lock: RunLock | None = None) -> Plan:
    """The plan `cmkctl plan` shows: the steps, and notices of what the key set once created.

    With a `lock` (`plan --lock`), the plan is made holding it, so plans and applies are serialised.
    """
    with open_run(key_set, options, lock) as run:
        if run.lists is not None and not targets and key_set.accounts.azure_subscription_id:
            _list_ahead(run.lists.all_vaults)
        return run.planner(unmanaged=True).plan(key_set, loaded, targets)


def plan_with(handlers: Handlers, key_set: KeySet, loaded: LoadedManifests, options: RunOptions,
              targets: Sequence[str], *, unread: dict[str, str] | None = None) -> Plan:
    """A plan read through handlers the caller holds open (an apply executes on the same ones).

    With `unread`, a failed read is kept there instead of failing the plan (a health check's).
    """
    return RunContext(key_set, options, handlers).planner(unread=unread).plan(key_set, loaded, targets)


def _list_ahead(fetch: Callable[[], Any]) -> None:
    """Fetch a list the unmanaged report will need while the plan reads, instead of after it.

    One attempt, in a daemon thread: the report asks the run's cache, which hands it this answer
    (waiting for it if still in flight), or asks again, with retries, if this attempt failed.
    """

    def attempt() -> None:
        with contextlib.suppress(Exception):
            fetch()

    threading.Thread(target=attempt, name="cmkctl-list-ahead", daemon=True).start()


def refuse_forbidden(plan: Plan, *, saved_as: Path | None = None) -> None:
    """Refuse a plan with forbidden steps; `saved_as`: the file `plan --out` wrote it to, for review only."""
    if plan.forbidden:
        saved = (f"\n{saved_as} holds it for review only: it is not applicable (applicable: false), and "
                 f"`cmkctl apply {saved_as}` refuses it" if saved_as is not None else "")
        raise ForbiddenError(f"the plan is forbidden; nothing was changed:\n{_forbidden_lines(plan)}{saved}")


def refuse_unapplicable(saved: Plan, path: Path | None) -> None:
    """Refuse a saved plan with forbidden steps before anything connects: it was saved for review only."""
    if saved.forbidden:
        raise ForbiddenError(f"{path}: the plan is not applicable (applicable: false): it has forbidden steps; "
                             f"nothing was read or changed:\n{_forbidden_lines(saved)}")


def _forbidden_lines(plan: Plan) -> str:
    return "\n".join(f"  - {step.address}: {step.reason}" for step in plan.forbidden)


def refuse_unsaveable(loaded: LoadedManifests) -> None:
    """Refuse, before anything is read live, to save a plan whose manifests apply could not find again."""
    for file in loaded.files:
        if file == STDIN_NAME:
            raise CmkError("cannot save the plan: its manifests came from standard input (-f -), which apply could "
                           "not read again; save them as files of the checkout and plan those")
        why = saveable(file)
        if why is not None:
            raise CmkError(f"cannot save the plan: {why}")


def read_plan(path: Path, *, signing_key: Secret | None = None) -> Plan:
    """A saved plan; with a key, only one signed with it."""
    try:
        data = read_regular(path, plandoc.MAX_PLAN_BYTES, what="saved plan")
        text = data.decode("utf-8")
    except UnreadableFile as refusal:
        raise StalePlanError(f"{path}: cannot read the plan: {refusal}") from None
    except UnicodeDecodeError as error:
        raise StalePlanError(f"{path}: not a cmkctl plan (not UTF-8 at byte {error.start})") from None
    return plandoc.loads(text, where=str(path), signing_key=signing_key)
