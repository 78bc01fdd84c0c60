"""Thin click commands: parse, call the library, pick a renderer, map errors to exit codes."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from reconciler import __version__
from reconciler.core.errors import CmkError, ForbiddenError, ManifestError, StalePlanError
from reconciler.render import FORMATS, render

if TYPE_CHECKING:
    from reconciler.manifest.loader import LoadedManifests
    from reconciler.manifest.model import KeySet
    from reconciler.plan.model import Plan
    from reconciler.usecases.session import RunOptions

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INVALID = 0, 1, 2, 3


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _sandbox_option(function: Any) -> Any:
    return click.option("--sandbox", type=click.Path(file_okay=False, path_type=Path),
                        help="Run against the embedded emulator whose state lives in DIR.")(function)


def _target_option(function: Any) -> Any:
    return click.option("--target", "targets", multiple=True, metavar="ADDRESS",
                        help="Limit to this object (or every object below this address prefix) and what it "
                             "depends on. Repeatable.")(function)


def _debug_options(function: Any) -> Any:
    function = click.option("--debug-file", type=click.Path(dir_okay=False, path_type=Path),
                            help="Write the --debug log to this file instead of stderr.")(function)
    return click.option("--debug", is_flag=True,
                        help="Log every HTTP exchange (method, path, status, request id; Authorization headers "
                             "and secret fields redacted).")(function)


def _configure_wire(debug: bool, debug_file: Path | None, audit_log: Path | None) -> None:
    from reconciler.core.wirelog import LOG

    stream: TextIO | None = None
    if debug_file is not None:
        stream = open(debug_file, "a", encoding="utf-8")  # noqa: SIM115 - for the process's lifetime
    elif debug:
        stream = sys.stderr
    LOG.configure(debug=stream, audit=audit_log)


def _lock_options(function: Any) -> Any:
    function = click.option("--lock-region", metavar="REGION", help="The region of --lock-table.")(function)
    function = click.option("--lock-table", metavar="TABLE",
                            help="Lock in this DynamoDB table (shared by many machines) instead of the manifest's "
                                 "lock setting or the local lock file.")(function)
    return click.option("--lock-timeout", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
                        help="How long to wait for another apply of the key set to finish.")(function)


def _lock_for(key_set: KeySet, sandbox: Path | None, table: str | None, region: str | None) -> Any:
    from reconciler.core.lock import LocalLock, default_directory

    if table is None and key_set.lock is not None:
        table, region = key_set.lock.dynamodb_table, region or key_set.lock.dynamodb_region
    if table is None:
        if region is not None:
            raise click.UsageError("--lock-region goes with --lock-table")
        return LocalLock(default_directory(sandbox), key_set.name)
    if region is None:
        raise click.UsageError("--lock-table needs --lock-region (or the manifest's lock.dynamodb.region)")
    from reconciler.providers.aws_lock import DynamoDbLock

    return DynamoDbLock(table, region, key_set.name)


def _parallelism_option(function: Any) -> Any:
    from reconciler.engine.graph import DEFAULT_PARALLELISM

    # The default is measured by benchmarks/fleet.py; see README "Performance".
    return click.option("--parallelism", type=click.IntRange(1, 256), default=DEFAULT_PARALLELISM,
                        show_default=True, help="How many objects are read or changed at once.")(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cmkctl")
def cli() -> None:
    """Declared, reviewed, repeatable customer-managed encryption keys.

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes pending
    (with --detailed-exitcode), 3 invalid manifest or forbidden plan.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: Sequence[str]) -> int:
    """Check manifests offline: YAML, schema, references, vendor rules. No credentials, no network."""
    from reconciler.manifest.loader import load

    loaded = load(paths)
    names = ", ".join(k.name for k in loaded.key_sets)
    click.echo(f"{len(loaded.files)} file(s), {len(loaded.key_sets)} key set(s) valid: {names}")
    return EXIT_OK


def _options(sandbox: Path | None, parallelism: int) -> RunOptions:
    from reconciler.usecases.session import RunOptions

    return RunOptions(sandbox=sandbox, parallelism=parallelism)


def _make_plan(key_set: KeySet, loaded: LoadedManifests, handlers: Any, options: RunOptions,
               targets: Sequence[str]) -> Plan:
    from reconciler.engine.planner import Planner
    from reconciler.usecases.session import retry_policy

    planner = Planner(handlers.by_kind, astra_databases=handlers.astra.databases if handlers.astra else None,
                      parallelism=options.parallelism, retry=retry_policy(options))
    return planner.plan(key_set, loaded, targets)


def _retrying(lists: Any, options: RunOptions) -> Any:
    from reconciler.core.retry import Retrying
    from reconciler.usecases.session import retry_policy

    return Retrying(lists, retry_policy(options))


def _with_unmanaged(key_set: KeySet, made: Plan, lists: Any, parallelism: int) -> Plan:
    """The plan, with what the key set created but no longer declares (a targeted plan looks no further)."""
    import dataclasses

    from reconciler.engine.unmanaged import unmanaged_notices

    if made.targets:
        return made
    found = unmanaged_notices(key_set, made, lists, parallelism=parallelism)
    return dataclasses.replace(made, notices=made.notices + tuple(found))


def _list_ahead(fetch: Any) -> None:
    """Fetch a list the unmanaged report will need while the plan reads, instead of after it.

    One attempt, in a daemon thread: the report asks the run's cache, which hands it this answer
    (waiting for it if still in flight), or asks again, with retries, if this attempt failed.
    """
    import contextlib
    import threading

    def attempt() -> None:
        with contextlib.suppress(Exception):
            fetch()

    threading.Thread(target=attempt, name="cmkctl-list-ahead", daemon=True).start()


def _refuse_forbidden(plan: Plan) -> None:
    if plan.forbidden:
        lines = "\n".join(f"  - {step.address}: {step.reason}" for step in plan.forbidden)
        raise ForbiddenError(f"the plan is forbidden; nothing was changed:\n{lines}")


@cli.command()
@click.option("-f", "--file", "paths", multiple=True, required=True, help="A manifest file or folder.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for apply.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@_target_option
@_sandbox_option
@_parallelism_option
@_debug_options
def plan(paths: Sequence[str], out: Path | None, fmt: str, detailed_exitcode: bool, targets: Sequence[str],
         sandbox: Path | None, parallelism: int, debug: bool, debug_file: Path | None) -> int:
    """Read live state and print the ordered steps that would reconcile it."""
    _configure_wire(debug, debug_file, None)
    from reconciler.manifest.loader import load_one
    from reconciler.plan import document as plandoc
    from reconciler.usecases.session import run_for

    key_set, loaded = load_one(paths)
    options = _options(sandbox, parallelism)
    with run_for(key_set, options) as (handlers, lists):
        if not targets and key_set.accounts.azure_subscription_id:
            _list_ahead(lists.all_vaults)
        made = _with_unmanaged(key_set, _make_plan(key_set, loaded, handlers, options, targets),
                               _retrying(lists, options), options.parallelism)
    document = plandoc.to_document(made)
    if out is not None:
        _write_atomically(out, plandoc.dumps(made))
    click.echo(render(document, fmt, color=_color()), nl=False)
    _refuse_forbidden(made)
    return EXIT_CHANGES if detailed_exitcode and made.has_changes else EXIT_OK


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-f", "--file", "paths", multiple=True, help="A manifest file or folder.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@_target_option
@_sandbox_option
@_parallelism_option
@_lock_options
@_debug_options
@click.option("--audit-log", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every mutating call (and each step's result) to this file, one JSON line each.")
def apply(plan_file: Path | None, paths: Sequence[str], auto_approve: bool, targets: Sequence[str],
          sandbox: Path | None, parallelism: int, lock_timeout: float, lock_table: str | None,
          lock_region: str | None, debug: bool, debug_file: Path | None, audit_log: Path | None) -> int:
    """Apply a fresh plan after confirmation, or a saved plan after checking it is not stale."""
    _configure_wire(debug, debug_file, audit_log)
    from reconciler.core.lock import held
    from reconciler.manifest.loader import load_one

    if (plan_file is None) == (not paths):
        raise click.UsageError("give either -f MANIFEST... or a saved PLAN_FILE")
    if plan_file is not None and targets:
        raise click.UsageError("a saved plan keeps the targets it was made with; --target goes with -f")
    saved = _read_plan(plan_file) if plan_file is not None else None
    key_set, loaded = load_one(saved.manifest_files if saved else paths)
    lock = _lock_for(key_set, sandbox, lock_table, lock_region)

    def waiting(holder: Any) -> None:
        click.echo(f"Waiting up to {lock_timeout:g}s for the lock on {key_set.name}, held by {holder.describe()} "
                   f"({lock.where})...", err=True)

    # Taken before the sandbox starts or anything is read: the plan itself must not interleave.
    with held(lock, key_set.name, timeout=lock_timeout, on_wait=waiting):
        return _apply_locked(plan_file, saved, key_set, loaded, auto_approve, targets, _options(sandbox, parallelism))


def _apply_locked(plan_file: Path | None, saved: Plan | None, key_set: KeySet, loaded: LoadedManifests,
                  auto_approve: bool, targets: Sequence[str], options: RunOptions) -> int:
    from reconciler.usecases.session import handlers_for

    with handlers_for(key_set, options) as handlers:
        fresh = _make_plan(key_set, loaded, handlers, options, saved.targets if saved else targets)
        if saved is not None:
            _refuse_stale(saved, fresh, plan_file)
        else:
            click.echo(render(_document(fresh), "text", color=_color()), nl=False)
            _refuse_forbidden(fresh)
            if not fresh.has_changes:
                return EXIT_OK
            if not auto_approve:
                _confirm()
        return _execute(saved or fresh, handlers, options)


def _document(made: Plan) -> dict[str, Any]:
    from reconciler.plan import document as plandoc

    return plandoc.to_document(made)


def _read_plan(path: Path) -> Plan:
    from reconciler.plan import document as plandoc

    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StalePlanError(f"{path}: cannot read the plan ({error})") from None
    return plandoc.loads(text, where=str(path))


def _refuse_stale(saved: Plan, fresh: Plan, path: Path | None) -> None:
    from reconciler.plan.staleness import stale_reasons

    _refuse_forbidden(saved)
    reasons = stale_reasons(saved, fresh)
    if reasons:
        raise StalePlanError(f"{path}: the plan is stale, plan again:\n" + "\n".join(f"  - {r}" for r in reasons))


def _confirm() -> None:
    click.echo("\ncmkctl will perform the actions above. Only 'yes' will be accepted to approve.")
    answer = click.prompt("Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise CmkError("apply cancelled; nothing was changed")


def _execute(made: Plan, handlers: Any, options: RunOptions) -> int:
    from reconciler.engine.executor import Executor
    from reconciler.render.progress import listener_for
    from reconciler.usecases.session import retry_policy

    listener = listener_for(made, interactive=sys.stdout.isatty(), color=_color())
    result = Executor(handlers.by_kind, parallelism=options.parallelism, listener=listener,
                      retry=retry_policy(options)).apply(made)
    listener.close()
    click.echo(f"\nApply {'complete' if result.ok else 'failed'}: {len(result.done)} changed, "
               f"{len(result.failed)} failed, {len(result.skipped)} skipped.")
    for address, error in result.failed.items():
        click.echo(f"  failed  {address}: {error}", err=True)
    for address, because in result.skipped.items():
        click.echo(f"  skipped {address}: {because} failed", err=True)
    return EXIT_OK if result.ok else EXIT_ERROR


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def show(plan_file: Path, fmt: str) -> int:
    """Render a saved plan."""
    click.echo(render(_document(_read_plan(plan_file)), fmt, color=_color()), nl=False)
    return EXIT_OK


@cli.command()
@click.option("-f", "--file", "paths", multiple=True, required=True,
              help="A manifest naming the accounts (and key set name) to export from.")
@click.option("--region", "regions", multiple=True, required=True, help="An Azure region to export. Repeatable.")
@click.option("--resource-group", help="Export only vaults of this resource group.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@_sandbox_option
def export(paths: Sequence[str], regions: Sequence[str], resource_group: str | None, out: Path | None,
           sandbox: Path | None) -> int:
    """Write a manifest of what already exists in the declared accounts."""
    from reconciler.engine.export import export as export_manifest
    from reconciler.manifest.loader import load_one
    from reconciler.usecases.session import inventory_for

    key_set, _ = load_one(paths)
    if key_set.accounts.azure_subscription_id is None:
        raise click.UsageError("the manifest names no Azure subscription (accounts.azure) to export from")
    with inventory_for(key_set, _options(sandbox, 1)) as lists:
        text, skipped = export_manifest(key_set, lists, regions, resource_group)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(out, text)
    for line in skipped:
        click.echo(f"not exported: {line}", err=True)
    return EXIT_OK


@cli.command()
@click.option("--plan", "of_plan", is_flag=True, help="Print the saved-plan schema instead.")
def schema(of_plan: bool) -> int:
    """Print the JSON Schema of manifests (for editors), or of saved plans."""
    from importlib import resources

    name = "plan.v1.json" if of_plan else "manifest.v1.json"
    click.echo(resources.files("reconciler").joinpath("schemas", name).read_text("utf-8"), nl=False)
    return EXIT_OK


@cli.group("lock")
def lock_group() -> None:
    """The lock that keeps two applies of one key set apart."""


@lock_group.command("break")
@click.option("-f", "--file", "paths", multiple=True, required=True, help="The manifest of the key set.")
@click.option("--id", "lock_id", help="Break it only if this is still its lock id (printed by the waiting apply).")
@_sandbox_option
@click.option("--lock-table", metavar="TABLE", help="The DynamoDB table (default: the manifest's lock setting).")
@click.option("--lock-region", metavar="REGION")
def lock_break(paths: Sequence[str], lock_id: str | None, sandbox: Path | None, lock_table: str | None,
               lock_region: str | None) -> int:
    """Remove a stale lock left by an apply that died holding it. Never done implicitly."""
    from reconciler.core.lock import Holder, LockError
    from reconciler.manifest.loader import load_one

    key_set, _ = load_one(paths)
    lock = _lock_for(key_set, sandbox, lock_table, lock_region)
    if not hasattr(lock, "break_lock"):
        probe = Holder.me(key_set.name)
        holder = lock.try_acquire(probe)
        if holder is None:
            lock.release(probe)
            click.echo(f"{key_set.name} is not locked ({lock.where}).")
            return EXIT_OK
        raise LockError(f"{key_set.name} is locked by a running apply: {holder.describe()}. A local lock is "
                        "released by the system when its holder exits, however it exits; it cannot be stale, "
                        "and cmkctl does not break it")
    broken = lock.break_lock(lock_id)
    if broken is None:
        click.echo(f"{key_set.name} is not locked ({lock.where}).")
    else:
        click.echo(f"Broke the lock on {key_set.name} in {lock.where}, held by {broken.describe()}.")
    return EXIT_OK


@cli.group("sandbox")
def sandbox_group() -> None:
    """The embedded emulator of ARM, Graph and the Astra DevOps API."""


@sandbox_group.command("show")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
def sandbox_show(directory: Path) -> int:
    """Print what the sandbox in DIRECTORY holds."""
    from reconciler.sandbox.show import describe, load_state

    click.echo(describe(load_state(directory)), nl=False)
    return EXIT_OK


@sandbox_group.command("serve")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-f", "--file", "paths", multiple=True,
              help="A manifest whose accounts a new world belongs to (and whose AWS account moto answers in; "
                   "without one: the defaults, AWS included).")
def sandbox_serve(directory: Path, paths: Sequence[str]) -> int:
    """Serve the sandbox in DIRECTORY in the foreground until SIGTERM or Ctrl-C.

    Writes DIRECTORY/endpoints.json; `plan`/`apply --sandbox DIRECTORY` then connect to this
    server instead of starting one in their own process. Faults and latency are read at start.
    """
    from reconciler.sandbox.served import serve

    serve(_sandbox_to_serve(directory, paths),
          lambda path: click.echo(f"Sandbox serving {directory} (pid {os.getpid()}); endpoints in {path}. "
                                  "Stop with Ctrl-C or SIGTERM."))
    return EXIT_OK


def _sandbox_to_serve(directory: Path, paths: Sequence[str]) -> Any:
    if paths:
        from reconciler.manifest.loader import load_one
        from reconciler.usecases.session import sandbox_for

        return sandbox_for(load_one(paths)[0], directory)
    from reconciler.sandbox import Sandbox
    from reconciler.usecases.session import DEFAULT_AWS_ACCOUNT

    return Sandbox(directory, aws_account_id=DEFAULT_AWS_ACCOUNT)


@sandbox_group.command("rotate-key")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("vault")
@click.argument("key")
def sandbox_rotate_key(directory: Path, vault: str, key: str) -> int:
    """Give KEY in VAULT a new version, as Key Vault's rotation does; prints the new versioned URI."""
    from reconciler.sandbox.rotation import rotate_key

    click.echo(rotate_key(directory, vault, key))
    return EXIT_OK


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)


def _report_bug() -> int:
    log_dir = Path(os.environ.get("CMKCTL_LOG_DIR") or tempfile.gettempdir())
    log = log_dir / f"cmkctl-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        log.write_text(traceback.format_exc(), "utf-8")
        where = f"the full traceback is in {log}"
    except OSError:
        where = "the traceback could not be written"
    kind = sys.exc_info()[0]
    click.echo(f"cmkctl hit a bug ({kind.__name__ if kind else 'unknown'}); {where}. Please report it.", err=True)
    return EXIT_ERROR


# A fleet's plan allocates millions of short-lived objects (SDK models, JSON); at Python's default
# threshold the cyclic collector ran ~450 times in one plan (~0.3 s). A run lives seconds: collect
# rarely (measured with benchmarks/fleet.py; peak memory is unchanged).
GC_THRESHOLD = (50_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> None:
    """The one error boundary: expected errors exit with their code, bugs with a log path."""
    if argv is None:  # the command itself, not a caller embedding it (the tests)
        import gc

        gc.set_threshold(*GC_THRESHOLD)
    try:
        code = cli.main(args=argv, prog_name="cmkctl", standalone_mode=False)
    except ManifestError as error:
        count = len(error.diagnostics)
        click.echo(f"Error: {count} problem{'s' if count != 1 else ''} in the manifests:", err=True)
        for diagnostic in error.diagnostics:
            click.echo(f"  {diagnostic.render()}", err=True)
        code = error.exit_code
    except CmkError as error:
        click.echo(f"Error: {error}", err=True)
        code = error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted; nothing more was changed.", err=True)
        code = EXIT_ERROR
    except click.ClickException as error:
        error.show()
        # click uses 2 for usage errors; here 2 means "changes pending".
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    except Exception:
        code = _report_bug()
    sys.exit(code if isinstance(code, int) else EXIT_OK)
