"""The commands that plan and apply a key set, and show a saved plan.

Each parses its flags, calls one use case, renders what comes back and names the exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli import interrupts
from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    color,
    command_settings,
    configure_wire,
    debug_options,
    parallelism_option,
    run_options,
    sandbox_option,
    target_option,
    wait_option,
    write_atomically,
)
from reconciler.cli.inputs import load_key_set, manifests_option
from reconciler.cli.lock import lock_for, lock_options
from reconciler.cli.paths import OutputFile, StateFolder
from reconciler.core.errors import CmkError
from reconciler.core.printable import visible_lines
from reconciler.render import FORMATS, render

APPLY_FORMATS = ("text", "json")

if TYPE_CHECKING:
    from reconciler.core.lock import Holder, Lock, LockFlags
    from reconciler.engine.executor import ApplyResult
    from reconciler.plan.model import Plan
    from reconciler.usecases.applying import Progress


@click.command()
@manifests_option()
@click.option("--out", type=OutputFile(), help="Save the plan for apply.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--lock", "take_lock", is_flag=True,
              help="Hold the key set's lock while planning, as apply does (off by default: plans only read).")
@target_option
@sandbox_option
@parallelism_option
@wait_option
@lock_options
@debug_options
def plan(paths: Sequence[str], out: Path | None, fmt: str, detailed_exitcode: bool, take_lock: bool,
         targets: Sequence[str], sandbox: Path | None, parallelism: int, waits: Sequence[tuple[str, float]],
         lock_timeout: float, lock_place: LockFlags, debug: bool, debug_file: Path | None) -> int:
    """Read live state and print the ordered steps that would reconcile it.

    \b
    Examples:
      cmkctl plan -f cmk/
      cmkctl plan -f cmk/ --out plan.json --format markdown > plan.md
      cmkctl plan -f cmk/ --detailed-exitcode
      cmkctl plan -f manifests/examples/astra-serverless-azure.yaml --sandbox /tmp/sandbox
    """
    configure_wire(debug, debug_file, None)
    from reconciler.plan import document as plandoc
    from reconciler.usecases.planning import plan_key_set, refuse_forbidden, refuse_unsaveable
    from reconciler.usecases.reviewing import plan_signing_key
    from reconciler.usecases.session import RunLock

    if not take_lock and (lock_timeout or lock_place.given):
        raise click.UsageError("a plan takes no lock unless asked: the lock flags go with --lock")
    key_set, loaded = load_key_set(paths)
    if out is not None:
        refuse_unsaveable(loaded)
    lock = lock_for(key_set, sandbox, lock_place) if take_lock else None
    held = RunLock(lock, lock_timeout, _Waiting(key_set.name, lock, lock_timeout)) if lock is not None else None
    made = plan_key_set(key_set, loaded, run_options(sandbox, parallelism, waits), targets, lock=held)
    document = plandoc.to_document(made)  # once: the file saved and the rendering are of one document
    if out is not None:
        write_atomically(out, plandoc.document_text(document, signing_key=plan_signing_key(command_settings())))
    click.echo(render(document, fmt, color=color()), nl=False)
    refuse_forbidden(made, saved_as=out)
    return EXIT_CHANGES if detailed_exitcode and made.has_changes else EXIT_OK


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@manifests_option(required=False)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--format", "fmt", type=click.Choice(APPLY_FORMATS), default="text", show_default=True,
              help="json: the apply's events on stdout, one JSON object a line (as terraform apply -json).")
@target_option
@sandbox_option
@parallelism_option
@wait_option
@lock_options
@debug_options
@click.option("--audit-log", type=OutputFile(make_folder=True),
              help="Append every mutating call (and each step's result) to this file, one JSON line each.")
def apply(plan_file: Path | None, paths: Sequence[str], auto_approve: bool, fmt: str, targets: Sequence[str],
          sandbox: Path | None, parallelism: int, waits: Sequence[tuple[str, float]], lock_timeout: float,
          lock_place: LockFlags, debug: bool, debug_file: Path | None, audit_log: Path | None) -> int:
    """Apply a fresh plan after confirmation, or a saved plan once it is shown to be the plan made again now.

    Without a terminal to ask on, a fresh plan needs --auto-approve.

    \b
    Examples:
      cmkctl apply -f cmk/
      cmkctl apply plan.json
      cmkctl apply -f cmk/ --auto-approve --audit-log audit.jsonl
    """
    configure_wire(debug, debug_file, audit_log)
    from reconciler.manifest.loader import load_one
    from reconciler.systems import PLUGINS
    from reconciler.usecases.applying import ApplyRequest
    from reconciler.usecases.applying import apply as apply_plan
    from reconciler.usecases.planning import read_plan
    from reconciler.usecases.reviewing import plan_signing_key, reviewed_content, saved_manifests

    if (plan_file is None) == (not paths):
        raise click.UsageError("give either -f MANIFEST... or a saved PLAN_FILE")
    if plan_file is not None and targets:
        raise click.UsageError("a saved plan keeps the targets it was made with; --target goes with -f")
    if plan_file is None and not auto_approve and not _can_ask():
        raise click.UsageError(NO_TERMINAL)
    if plan_file is None and not auto_approve and fmt == "json":
        raise click.UsageError("apply --format json writes events, not a prompt: give --auto-approve, or apply a "
                               "reviewed saved plan")
    if plan_file is not None:  # the files it names, as they were reviewed, or nothing is read
        saved = read_plan(plan_file, signing_key=plan_signing_key(command_settings()))
        named = saved_manifests(saved, plan_file)
        key_set, loaded = load_one(named, plugins=PLUGINS, accept=reviewed_content(saved, named))
    else:
        saved = None
        key_set, loaded = load_key_set(paths)
    lock = lock_for(key_set, sandbox, lock_place)
    request = ApplyRequest(key_set, loaded, run_options(sandbox, parallelism, waits), lock, lock_timeout, saved,
                           plan_file, targets, auto_approve, stop=interrupts.INTERRUPTS.stop)
    if fmt == "json":
        return _report_events(apply_plan(request, _Events(key_set.name, lock, lock_timeout)))
    return _report(apply_plan(request, _Terminal(key_set.name, lock, lock_timeout)))


# As Terraform's -input=false: a run that cannot be answered fails at once instead of waiting on a pipe.
NO_TERMINAL = ("apply asks for approval, and standard input is not a terminal to ask on; nothing was read or "
               "changed: give --auto-approve to apply without asking, or apply a reviewed saved plan "
               "(cmkctl plan --out FILE, then cmkctl apply FILE)")


def _can_ask() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@dataclass
class _Waiting:
    """Says on stderr whom a run waits for when the key set's lock is held."""

    key_set: str
    lock: Lock | None
    lock_timeout: float

    def __call__(self, holder: Holder) -> None:
        where = f" ({self.lock.where})" if self.lock is not None else ""
        click.echo(f"Waiting up to {self.lock_timeout:g}s for the lock on {self.key_set}, held by "
                   f"{holder.describe()}{where}...", err=True)


@dataclass
class _Terminal(_Waiting):
    """The apply's front end on a terminal (or a pipe): shows, asks, reports progress."""

    def waiting_for_lock(self, holder: Holder) -> None:
        self(holder)

    def review(self, plan: Plan) -> None:
        click.echo(render(_document(plan), "text", color=color()), nl=False)

    def approve(self, plan: Plan) -> None:
        click.echo("\ncmkctl will perform the actions above. Only 'yes' will be accepted to approve.")
        answer = click.prompt("Enter a value", default="", show_default=False)
        if answer.strip() != "yes":
            raise CmkError("apply cancelled; nothing was changed")

    def progress(self, plan: Plan) -> Progress:
        from reconciler.render.progress import listener_for

        return interrupts.applying(plan, listener_for(plan, interactive=sys.stdout.isatty(), color=color(),
                                                      stream=sys.stdout))


@dataclass
class _Events(_Terminal):
    """The apply's front end for programs: events on stdout, one JSON object a line; never asks."""

    def review(self, plan: Plan) -> None:
        pass  # its steps are told as planned_change events once it is to be carried out

    def progress(self, plan: Plan) -> Progress:
        from reconciler.render.events import EventListener, planned

        planned(click.echo, plan)
        return interrupts.applying(plan, EventListener(click.echo))


def _report_events(result: ApplyResult | None) -> int:
    from reconciler.render.events import finished

    if result is None:
        finished(click.echo, "complete", [], {}, {}, [])
        return EXIT_OK
    interrupts.INTERRUPTS.settled()
    interrupted = interrupts.INTERRUPTS.received is not None
    outcome = "interrupted" if interrupted else "complete" if result.ok else "failed"
    finished(click.echo, outcome, result.done, result.failed, result.skipped, result.not_started)
    return interrupts.INTERRUPTS.exit_code if interrupted else EXIT_OK if result.ok else EXIT_ERROR


def _report(result: ApplyResult | None) -> int:
    if result is None:
        return EXIT_OK
    interrupts.INTERRUPTS.settled()
    if interrupts.INTERRUPTS.received is not None:
        return _report_interrupted(result)
    click.echo(f"\nApply {'complete' if result.ok else 'failed'}: {len(result.done)} changed, "
               f"{len(result.failed)} failed, {len(result.skipped)} skipped.")
    for address, error in result.failed.items():
        click.echo(f"  failed  {address}: {visible_lines(str(error))}", err=True)
    for address, because in result.skipped.items():
        click.echo(f"  skipped {address}: {because} failed", err=True)
    return EXIT_OK if result.ok else EXIT_ERROR


def _report_interrupted(result: ApplyResult) -> int:
    """What an interrupted apply did and did not do, each step named; exits as the signal says."""
    click.echo(f"\nApply interrupted: {len(result.done)} changed, {len(result.failed)} failed, "
               f"{len(result.skipped)} skipped, {len(result.not_started)} not started.")
    for address in result.done:
        click.echo(f"  done         {address}")
    for address in result.not_started:
        click.echo(f"  not started  {address}")
    for address, error in result.failed.items():
        click.echo(f"  failed       {address}: {visible_lines(str(error))}")
    for address, because in result.skipped.items():
        click.echo(f"  skipped      {address}: {because} failed")
    if result.not_started:
        click.echo("Apply again (the same command) to carry out the rest.")
    return interrupts.INTERRUPTS.exit_code


def _document(made: Plan) -> dict[str, Any]:
    from reconciler.plan import document as plandoc

    return plandoc.to_document(made)


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--split", "split_into", type=StateFolder(),
              help="With --format markdown: write pull request comments of under 65,536 characters each into "
                   "this (new or empty) folder, comment-01.md first, and print their paths.")
def show(plan_file: Path, fmt: str, split_into: Path | None) -> int:
    """Render a saved plan.

    \b
    Examples:
      cmkctl show plan.json
      cmkctl show plan.json --format markdown --split comments/
    """
    from reconciler.usecases.planning import read_plan

    if split_into is not None and fmt != "markdown":
        raise click.UsageError("--split cuts markdown into comments: it goes with --format markdown")
    document = _document(read_plan(plan_file))
    if split_into is None:
        click.echo(render(document, fmt, color=color()), nl=False)
    else:
        _write_comments(document, split_into)
    return EXIT_OK


def _write_comments(document: dict[str, Any], folder: Path) -> None:
    from reconciler.render.split import split_markdown

    if any(folder.glob("comment-*.md")):
        raise click.UsageError(f"{folder} already holds comment-*.md files: give a new or empty folder")
    for number, text in enumerate(split_markdown(document), start=1):
        path = folder / f"comment-{number:02d}.md"
        write_atomically(path, text)
        click.echo(str(path))
