"""The commands that watch a key set's health: check (once) and watch (a loop). Neither changes anything."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    command_settings,
    configure_wire,
    debug_options,
    parallelism_option,
    run_options,
    sandbox_option,
    wait_option,
)
from reconciler.cli.inputs import load_key_set, manifests_option
from reconciler.plan.health import DEFAULT_EXPIRY_WARNING_DAYS, Status
from reconciler.render.health import HEALTH_FORMATS, render_health

# README "Exit codes" of check: every path healthy, warnings only, something broken.
EXIT_BY_STATUS = {Status.HEALTHY: EXIT_OK, Status.WARNING: EXIT_CHANGES, Status.BROKEN: EXIT_ERROR}


def expiry_warning_option(function: Any) -> Any:
    return click.option("--expiry-warning", "expiry_warning", type=click.IntRange(0), metavar="DAYS",
                        default=DEFAULT_EXPIRY_WARNING_DAYS, show_default=True,
                        help="Warn when a key expires within this many days.")(function)


@click.command()
@manifests_option()
@click.option("--format", "fmt", type=click.Choice(HEALTH_FORMATS), default="text", show_default=True)
@expiry_warning_option
@sandbox_option
@parallelism_option
@wait_option
@debug_options
def check(paths: Sequence[str], fmt: str, expiry_warning: int, sandbox: Path | None, parallelism: int,
          waits: Sequence[tuple[str, float]], debug: bool, debug_file: Path | None) -> int:
    """Read-only health of every declared key path, as its consumer needs it.

    Exit 0 when every path is healthy, 2 with warnings only, 1 when a path is broken.

    \b
    Examples:
      cmkctl check -f cmk/
      cmkctl check -f cmk/ --format prometheus > /var/lib/node_exporter/cmkctl.prom
    """
    from reconciler.usecases.checking import check_key_set

    configure_wire(debug, debug_file, None)
    key_set, loaded = load_key_set(paths)
    checked = check_key_set(key_set, loaded, run_options(sandbox, parallelism, waits),
                            expiry_warning_days=expiry_warning)
    click.echo(render_health(checked.health, fmt), nl=False)
    return EXIT_BY_STATUS[checked.health.status]


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:9464", param_hint="--metrics-address")
    return host.strip("[]"), int(port)


@click.command()
@manifests_option()
@click.option("--interval", type=click.FloatRange(min=1), default=300, show_default=True, metavar="SECONDS",
              help="Time between the starts of two cycles.")
@click.option("--jitter", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Each wait is the interval give or take this fraction of it.")
@click.option("--once", is_flag=True, help="Run one cycle and exit as check does.")
@click.option("--metrics-address", default="127.0.0.1:9464", show_default=True, metavar="HOST:PORT",
              help="Where Prometheus metrics are served (port 0: any free port, said on stderr).")
@expiry_warning_option
@sandbox_option
@parallelism_option
@debug_options
def watch(paths: Sequence[str], interval: float, jitter: float, once: bool, metrics_address: str,
          expiry_warning: int, sandbox: Path | None, parallelism: int, debug: bool, debug_file: Path | None) -> int:
    """Plan and check every interval, serve metrics, log changes as JSON lines. Never applies anything.

    Exits as check does on its last cycle (with --once, its only one): the cycle's error, else its health.

    \b
    Examples:
      cmkctl watch -f cmk/
      cmkctl watch -f cmk/ --interval 600 --metrics-address 127.0.0.1:0
      cmkctl watch -f cmk/ --once
    """
    import json

    from reconciler.usecases.session import RunOptions
    from reconciler.usecases.watching import WatchMetrics, WatchOptions, serving
    from reconciler.usecases.watching import watch as watch_key_set

    configure_wire(debug, debug_file, None)
    where = _address(metrics_address)
    key_set, loaded = load_key_set(paths)
    metrics = WatchMetrics()
    options = WatchOptions(interval=interval, jitter=jitter, cycles=1 if once else None,
                           expiry_warning_days=expiry_warning)
    with serving(metrics, where) as (host, port):
        click.echo(f"Serving metrics on http://{host}:{port}/metrics", err=True)
        run = RunOptions(sandbox, parallelism, settings=command_settings())
        watched = watch_key_set(key_set, loaded, run, options, metrics,
                                lambda line: click.echo(json.dumps(line, sort_keys=True)))
    # The last cycle's outcome, as `check` would exit on it: its error, else its health.
    if watched.last.failure is not None:
        raise watched.last.failure
    return EXIT_BY_STATUS[watched.last.status] if watched.last.status is not None else EXIT_OK
