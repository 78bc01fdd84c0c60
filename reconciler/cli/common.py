"""What the command modules share: exit codes, options, the choice of colour, the lock a run takes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click

from reconciler.cli.paths import OutputFile, StateFolder
from reconciler.core.errors import CmkError, Diagnostic
from reconciler.core.settings import Settings

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INVALID = 0, 1, 2, 3


@dataclass
class OutputChoice:
    """How this run speaks, chosen by flags any command takes: read by the renderers and by `main`."""

    no_color: bool = False
    json_errors: bool = False


OUTPUT = OutputChoice()


def color(stream: TextIO | None = None) -> bool:
    # no-color.org: NO_COLOR set to a non-empty value disables colour; set but empty, it does not.
    return (stream or sys.stdout).isatty() and not os.environ.get("NO_COLOR") and not OUTPUT.no_color


def _choose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        setattr(OUTPUT, str(param.name), True)


def output_options() -> list[click.Option]:
    """`--no-color` and `--json`, taken before the command or after it."""
    return [
        click.Option(["--no-color", "no_color"], is_flag=True, expose_value=False, callback=_choose,
                     help="Never colour the output (as NO_COLOR=1 does)."),
        click.Option(["--json", "json_errors"], is_flag=True, expose_value=False, callback=_choose,
                     help="On an error, print one JSON object on stderr: code, message, diagnostics."),
    ]


def diagnostic_json(diagnostic: Diagnostic, severity: str = "error") -> dict[str, Any]:
    """A diagnostic as machine-readable output names it; `address` is the field's path in the manifest."""
    return {"severity": severity, "rule": diagnostic.rule or None, "file": diagnostic.file, "line": diagnostic.line,
            "address": diagnostic.field or None, "message": diagnostic.summary}


def sandbox_option(function: Any) -> Any:
    return click.option("--sandbox", type=StateFolder(),
                        help="Run against the embedded emulator whose state lives in DIR.")(function)


def target_option(function: Any) -> Any:
    return click.option("--target", "targets", multiple=True, metavar="ADDRESS",
                        help="Limit to this object (or every object below this address prefix) and what it "
                             "depends on. Repeatable.")(function)


# Set in the environment, as a CI job sets it once for every step: `CMKCTL_DEBUG=1`, `CMKCTL_DEBUG_FILE=PATH`.
DEBUG_VARIABLE, DEBUG_FILE_VARIABLE = "CMKCTL_DEBUG", "CMKCTL_DEBUG_FILE"


def debug_options(function: Any) -> Any:
    function = click.option("--debug-file", type=OutputFile(), envvar=DEBUG_FILE_VARIABLE, show_envvar=True,
                            help="Write the --debug log to this file instead of stderr.")(function)
    return click.option("--debug", is_flag=True, envvar=DEBUG_VARIABLE, show_envvar=True,
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


class WaitBudget(click.ParamType):  # type: ignore[type-arg,unused-ignore]  # generic from click 8.2 on
    """`KIND=DURATION`: one retry budget (reconciler.core.retry.parse_budget), refused with a sentence."""

    name = "KIND=DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, float]:
        if isinstance(value, tuple):
            return value
        from reconciler.core.retry import parse_budget

        try:
            return parse_budget(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def wait_option(function: Any) -> Any:
    return click.option("--wait", "waits", type=WaitBudget(), multiple=True,
                        help="How long to wait for one kind of thing before giving up, e.g. --wait grant=15m: "
                             "transient (throttling, 5xx; default 5m), principal (a new principal reaching "
                             "Azure RBAC; 30m), grant (a new grant taking effect; 10m). Repeatable.")(function)


def command_settings() -> Settings:
    """The command's settings, read from the environment once, as it begins: everything below is handed them."""
    context = click.get_current_context(silent=True)
    if context is None:
        return Settings.read(os.environ)
    meta = context.find_root().meta
    if "cmkctl.settings" not in meta:
        meta["cmkctl.settings"] = Settings.read(os.environ)
    settings: Settings = meta["cmkctl.settings"]
    return settings


def run_options(sandbox: Path | None, parallelism: int, waits: Sequence[tuple[str, float]] = ()) -> Any:
    """The run's options: the budgets the flags change, the settings, and what the run waits for said on stderr."""
    from reconciler.core.retry import DEFAULT_BUDGETS
    from reconciler.render.progress import WaitReporter
    from reconciler.usecases.session import RunOptions

    return RunOptions(sandbox, parallelism, budgets=DEFAULT_BUDGETS.changed(dict(waits)),
                      on_wait=WaitReporter(lambda line: click.echo(line, err=True)), settings=command_settings())


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, "utf-8")
        os.replace(temporary, path)
    except OSError as error:  # the folder went away since the command line was read, or the disk is full
        raise CmkError(f"cannot write {path}: {error.strerror or error}") from None
