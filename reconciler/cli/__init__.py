"""The command line: click commands that parse, call one use case, pick a renderer and map errors
to exit codes. `main` is the console script's entry point and the one error boundary.

May import anything below it; nothing imports it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler import __version__
from reconciler.cli import conventions, health, interrupts, keysets, manifests
from reconciler.cli.common import EXIT_ERROR, EXIT_OK, OUTPUT, diagnostic_json, output_options
from reconciler.cli.lock import lock_group
from reconciler.cli.sandbox import sandbox_group
from reconciler.core.errors import CmkError, Diagnostic, ManifestError
from reconciler.core.printable import json_visible, visible_lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cmkctl")
def cli() -> None:
    """Declared, reviewed, repeatable customer-managed encryption keys.

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes pending
    (with --detailed-exitcode), 3 invalid manifest, forbidden plan or another account, 130 interrupted.
    """


for command in (cli, manifests.validate, keysets.plan, keysets.apply, keysets.show, manifests.export, manifests.schema,
                health.check, health.watch, lock_group, sandbox_group, conventions.version, conventions.completion):
    if command is not cli:
        cli.add_command(command)
# Every command, and every subcommand of a group, takes them before or after its name.
for command in (cli, *cli.commands.values(), *lock_group.commands.values(), *sandbox_group.commands.values()):
    command.params.extend(output_options())


def _report_bug() -> int:
    try:
        log = _crash_log(traceback.format_exc())
        where = f"the full traceback is in {log}"
    except OSError:
        where = "the traceback could not be written"
    kind = sys.exc_info()[0]
    click.echo(f"cmkctl hit a bug ({kind.__name__ if kind else 'unknown'}); {where}. Please report it.", err=True)
    return EXIT_ERROR


def _crash_log(text: str) -> Path:
    """A new file holding `text`, which no one else can have made or can read.

    A predictable name in a shared folder lets another user plant a symlink there and have the
    traceback written over a file of their choosing: the name is random and the file created
    exclusively, without following a link (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), in
    CMKCTL_LOG_DIR or else in a new private folder (mkdtemp: mode 0700).
    """
    folder = os.environ.get("CMKCTL_LOG_DIR") or tempfile.mkdtemp(prefix="cmkctl-")
    handle, name = tempfile.mkstemp(prefix=f"cmkctl-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-",
                                    suffix=".log", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as log:
        log.write(text)
    return Path(name)


# A fleet's plan allocates millions of short-lived objects (SDK models, JSON); at Python's default
# threshold the cyclic collector ran ~450 times in one plan (~0.3 s). A run lives seconds: collect
# rarely (measured with benchmarks/fleet.py; peak memory is unchanged).
GC_THRESHOLD = (50_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> None:
    """The one error boundary: expected errors exit with their code, bugs with a log path."""
    if argv is None:  # the command itself, not a caller embedding it (the tests)
        import gc

        gc.set_threshold(*GC_THRESHOLD)
    from reconciler.core.wirelog import route_logging

    route_logging(None)  # silent until --debug says where
    OUTPUT.no_color = OUTPUT.json_errors = False  # the flags of this run only (the tests run many in one process)
    try:
        with interrupts.handled():
            code = cli.main(args=argv, prog_name="cmkctl", standalone_mode=False)
    except ManifestError as error:
        code = _fail(error.exit_code, _problems(error), error.diagnostics)
    except CmkError as error:
        code = _fail(error.exit_code, str(error))
    except click.exceptions.Abort as error:
        interrupt = _interrupt(error)
        code = (_fail(interrupts.exit_code(interrupt), "Interrupted.", prefix="") if interrupt is not None
                else _fail(EXIT_ERROR, "Aborted; nothing more was changed.", prefix=""))
    except click.ClickException as error:
        # click uses 2 for usage errors; here 2 means "changes pending".
        code = _fail(EXIT_ERROR, error.format_message()) if OUTPUT.json_errors else _shown(error)
    except KeyboardInterrupt as interrupt:
        code = _fail(interrupts.exit_code(interrupt), "Interrupted.", prefix="")
    except Exception:
        code = _report_bug()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _interrupt(abort: click.exceptions.Abort) -> KeyboardInterrupt | None:
    """The interrupt that stopped the command, if one did: click turns Ctrl-C (and SIGTERM, see
    cli.interrupts) into Abort, inside the command (`from` it) and at a prompt (`from None`, which still
    keeps it as the context); an end of input at a prompt is no interrupt."""
    cause = abort.__cause__ or abort.__context__
    return cause if isinstance(cause, KeyboardInterrupt) else None


def _problems(error: ManifestError) -> str:
    count = len(error.diagnostics)
    lines = [f"{count} problem{'s' if count != 1 else ''} in the manifests:"]
    return "\n  ".join(lines + [d.render() for d in error.diagnostics])


def _fail(code: int, message: str, diagnostics: Sequence[Diagnostic] = (), *, prefix: str = "Error: ") -> int:
    """Says why the run failed: a line for people, or with --json one object for programs."""
    if OUTPUT.json_errors:
        import json

        report = {"code": code, "message": message, "diagnostics": [diagnostic_json(d) for d in diagnostics]}
        click.echo(json_visible(json.dumps(report, ensure_ascii=False)), err=True)
    else:  # a value quoted in the message (a Sid, a key, a cloud's answer) never reaches the terminal raw
        click.echo(prefix + visible_lines(message), err=True)
    return code


def _shown(error: click.ClickException) -> int:
    error.show()
    return EXIT_ERROR
