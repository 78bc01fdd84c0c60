"""`cmkctl lock`: the lock that keeps two applies of one key set apart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.common import EXIT_OK, lock_for, sandbox_option


@click.group("lock")
def lock_group() -> None:
    """The lock that keeps two applies of one key set apart."""


@lock_group.command("break")
@click.option("-f", "--file", "paths", multiple=True, required=True, help="The manifest of the key set.")
@click.option("--id", "lock_id", help="Break it only if this is still its lock id (printed by the waiting apply).")
@sandbox_option
@click.option("--lock-table", metavar="TABLE", help="The DynamoDB table (default: the manifest's lock setting).")
@click.option("--lock-region", metavar="REGION")
def lock_break(paths: Sequence[str], lock_id: str | None, sandbox: Path | None, lock_table: str | None,
               lock_region: str | None) -> int:
    """Remove a stale lock left by an apply that died holding it. Never done implicitly."""
    from reconciler.manifest.loader import load_one
    from reconciler.usecases.locking import break_lock

    key_set, _ = load_one(paths)
    lock = lock_for(key_set, sandbox, lock_table, lock_region)
    broken = break_lock(key_set.name, lock, lock_id)
    if broken is None:
        click.echo(f"{key_set.name} is not locked ({lock.where}).")
    else:
        click.echo(f"Broke the lock on {key_set.name} in {lock.where}, held by {broken.describe()}.")
    return EXIT_OK
