"""What the command modules share: exit codes, options, the choice of colour, the lock a run takes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from reconciler.cli.paths import OutputFile, StateFolder
from reconciler.core.errors import CmkError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INVALID = 0, 1, 2, 3


def color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def sandbox_option(function: Any) -> Any:
    return click.option("--sandbox", type=StateFolder(),
                        help="Run against the embedded emulator whose state lives in DIR.")(function)


def target_option(function: Any) -> Any:
    return click.option("--target", "targets", multiple=True, metavar="ADDRESS",
                        help="Limit to this object (or every object below this address prefix) and what it "
                             "depends on. Repeatable.")(function)


def debug_options(function: Any) -> Any:
    function = click.option("--debug-file", type=OutputFile(),
                            help="Write the --debug log to this file instead of stderr.")(function)
    return click.option("--debug", is_flag=True,
                        help="Log every HTTP exchange (method, path, status, request id; Authorization headers "
                             "and secret fields redacted).")(function)


def configure_wire(debug: bool, debug_file: Path | None, audit_log: Path | None) -> None:
    from reconciler.core.wirelog import LOG, route_logging

    stream: TextIO | None = None
    if debug_file is not None:
        stream = open(debug_file, "a", encoding="utf-8")  # noqa: SIM115 - for the process's lifetime
    elif debug:
        stream = sys.stderr
    LOG.configure(debug=stream, audit=audit_log)
    route_logging(stream)


def parallelism_option(function: Any) -> Any:
    from reconciler.engine.graph import DEFAULT_PARALLELISM

    # The default is measured by benchmarks/fleet.py; see README "Performance".
    return click.option("--parallelism", type=click.IntRange(1, 256), default=DEFAULT_PARALLELISM,
                        show_default=True, help="How many objects are read or changed at once.")(function)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, "utf-8")
        os.replace(temporary, path)
    except OSError as error:  # the folder went away since the command line was read, or the disk is full
        raise CmkError(f"cannot write {path}: {error.strerror or error}") from None
