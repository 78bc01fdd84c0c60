"""`cmkctl lock`, and the flags that choose the lock a run takes: local, DynamoDB or a blob lease."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import EXIT_OK, sandbox_option

if TYPE_CHECKING:
    from reconciler.core.lock import Lock, LockFlags
    from reconciler.manifest.model import KeySet


def lock_place_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The flags naming a shared lock, handed to the command as one `lock_place: LockFlags`."""

    @functools.wraps(function)
    def command(*args: Any, lock_table: str | None, lock_region: str | None, lock_blob_account: str | None,
                lock_blob_container: str | None, lock_blob: str | None, **kwargs: Any) -> Any:
        from reconciler.core.lock import LockFlags

        place = LockFlags(lock_table, lock_region, lock_blob_account, lock_blob_container, lock_blob)
        return function(*args, lock_place=place, **kwargs)

    for option in (
        click.option("--lock-blob", metavar="NAME", help="The lock blob (default: cmkctl/KEY_SET.lock)."),
        click.option("--lock-blob-container", metavar="CONTAINER", help="The container of --lock-blob-account."),
        click.option("--lock-blob-account", metavar="ACCOUNT",
                     help="Lock with a blob lease in this Azure Storage account (shared by many machines) instead "
                          "of the manifest's lock setting or the local lock file."),
        click.option("--lock-region", metavar="REGION", help="The region of --lock-table."),
        click.option("--lock-table", metavar="TABLE",
                     help="Lock in this DynamoDB table (shared by many machines) instead of the manifest's "
                          "lock setting or the local lock file."),
    ):
        command = option(command)
    return command


def lock_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = lock_place_options(function)
    return click.option("--lock-timeout", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
                        help="How long to wait for another run holding the key set's lock to finish.")(function)


def lock_for(key_set: KeySet, sandbox: Path | None, place: LockFlags) -> Lock:
    """The lock the flags, else the manifest's lock setting, name; the local lock file if neither does."""
    from reconciler.core.lock import LocalLock, default_directory

    if place.table is not None and place.blob_account is not None:
        raise click.UsageError("--lock-table and --lock-blob-account name two different locks; give one")
    setting = key_set.lock
    if place.blob_account is not None or (place.table is None and setting is not None and setting.blob_account):
        return _blob_lock_for(key_set, place)
    if place.table is not None or (setting is not None and setting.dynamodb_table):
        return _dynamodb_lock_for(key_set, place)
    if place.region is not None:
        raise click.UsageError("--lock-region goes with --lock-table")
    if place.blob_container is not None or place.blob is not None:
        raise click.UsageError("--lock-blob-container and --lock-blob go with --lock-blob-account")
    return LocalLock(default_directory(sandbox), key_set.name)


def _dynamodb_lock_for(key_set: KeySet, place: LockFlags) -> Lock:
    from reconciler.providers.aws_lock import DynamoDbLock

    setting = key_set.lock
    table = place.table or (setting.dynamodb_table if setting else None)
    region = place.region or (setting.dynamodb_region if setting else None)
    if region is None:
        raise click.UsageError("--lock-table needs --lock-region (or the manifest's lock.dynamodb.region)")
    flags = f"--lock-table {place.table} --lock-region {region}" if place.table else ""
    return DynamoDbLock(str(table), region, key_set.name, break_flags=flags)


def _blob_lock_for(key_set: KeySet, place: LockFlags) -> Lock:
    from reconciler.providers.azure_blob_lock import BlobLeaseLock

    setting = key_set.lock
    account = place.blob_account or (setting.blob_account if setting else None)
    container = place.blob_container or (setting.blob_container if setting else None)
    blob = place.blob or (setting.blob_name if setting else None)
    if container is None:
        raise click.UsageError("--lock-blob-account needs --lock-blob-container (or the manifest's "
                               "lock.azureBlob.container)")
    flags = ""
    if place.blob_account:
        flags = f"--lock-blob-account {account} --lock-blob-container {container}"
        flags += f" --lock-blob {blob}" if blob else ""
    return BlobLeaseLock(str(account), container, blob, key_set.name, break_flags=flags)


@click.group("lock")
def lock_group() -> None:
    """The lock that keeps two applies of one key set apart."""


@lock_group.command("break")
@click.option("-f", "--file", "paths", multiple=True, required=True, help="The manifest of the key set.")
@click.option("--id", "lock_id", help="Break it only if this is still its lock id (printed by the waiting apply).")
@sandbox_option
@lock_place_options
def lock_break(paths: Sequence[str], lock_id: str | None, sandbox: Path | None, lock_place: LockFlags) -> int:
    """Remove a stale shared lock left by a run that died holding it. Never done implicitly."""
    from reconciler.manifest.loader import load_one
    from reconciler.usecases.locking import break_lock

    key_set, _ = load_one(paths)
    lock = lock_for(key_set, sandbox, lock_place)
    broken = break_lock(key_set.name, lock, lock_id)
    if broken is None:
        click.echo(f"{key_set.name} is not locked ({lock.where}).")
    else:
        click.echo(f"Broke the lock on {key_set.name} in {lock.where}, held by {broken.describe()}.")
    return EXIT_OK
