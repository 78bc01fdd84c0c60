"""What the command modules share: exit codes, options, the choice of colour, the lock a run takes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

if TYPE_CHECKING:
    from reconciler.core.lock import Lock
    from reconciler.manifest.model import KeySet

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INVALID = 0, 1, 2, 3


def color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def sandbox_option(function: Any) -> Any:
    return click.option("--sandbox", type=click.Path(file_okay=False, path_type=Path),
                        help="Run against the embedded emulator whose state lives in DIR.")(function)


def target_option(function: Any) -> Any:
    return click.option("--target", "targets", multiple=True, metavar="ADDRESS",
                        help="Limit to this object (or every object below this address prefix) and what it "
                             "depends on. Repeatable.")(function)


def debug_options(function: Any) -> Any:
    function = click.option("--debug-file", type=click.Path(dir_okay=False, path_type=Path),
                            help="Write the --debug log to this file instead of stderr.")(function)
    return click.option("--debug", is_flag=True,
                        help="Log every HTTP exchange (method, path, status, request id; Authorization headers "
                             "and secret fields redacted).")(function)


def configure_wire(debug: bool, debug_file: Path | None, audit_log: Path | None) -> None:
    from reconciler.core.wirelog import LOG

    stream: TextIO | None = None
    if debug_file is not None:
        stream = open(debug_file, "a", encoding="utf-8")  # noqa: SIM115 - for the process's lifetime
    elif debug:
        stream = sys.stderr
    LOG.configure(debug=stream, audit=audit_log)


def lock_options(function: Any) -> Any:
    function = click.option("--lock-region", metavar="REGION", help="The region of --lock-table.")(function)
    function = click.option("--lock-table", metavar="TABLE",
                            help="Lock in this DynamoDB table (shared by many machines) instead of the manifest's "
                                 "lock setting or the local lock file.")(function)
    return click.option("--lock-timeout", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
                        help="How long to wait for another apply of the key set to finish.")(function)


def lock_for(key_set: KeySet, sandbox: Path | None, table: str | None, region: str | None) -> Lock:
    """The lock the flags and the manifest's lock setting name; the local lock file if neither does."""
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


def parallelism_option(function: Any) -> Any:
    from reconciler.engine.graph import DEFAULT_PARALLELISM

    # The default is measured by benchmarks/fleet.py; see README "Performance".
    return click.option("--parallelism", type=click.IntRange(1, 256), default=DEFAULT_PARALLELISM,
                        show_default=True, help="How many objects are read or changed at once.")(function)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)
