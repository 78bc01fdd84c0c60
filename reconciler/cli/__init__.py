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
from reconciler.cli import health, keysets
from reconciler.cli.common import EXIT_ERROR, EXIT_OK
from reconciler.cli.lock import lock_group
from reconciler.cli.sandbox import sandbox_group
from reconciler.core.errors import CmkError, ManifestError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cmkctl")
def cli() -> None:
    """Declared, reviewed, repeatable customer-managed encryption keys.

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes pending
    (with --detailed-exitcode), 3 invalid manifest or forbidden plan.
    """


for command in (keysets.validate, keysets.plan, keysets.apply, keysets.show, keysets.export, keysets.schema,
                health.check, health.watch, lock_group, sandbox_group):
    cli.add_command(command)


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
    from reconciler.core.wirelog import route_logging

    route_logging(None)  # silent until --debug says where
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
