"""`cmkctl lock`, and the lock a run takes: the one its manifest declares (DynamoDB, a blob lease), else local."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import EXIT_OK, command_settings, configure_wire, debug_options, sandbox_option
from reconciler.cli.inputs import load_key_set, manifests_option

if TYPE_CHECKING:
    from reconciler.core.lock import Lock, LockFlags
    from reconciler.manifest.model import KeySet


def lock_place_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The flags naming a shared lock, handed to the command as one `lock_place: LockFlags`; they may
    only repeat the manifest's `lock:` (see `usecases.locking.declared_lock`)."""

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
                     help="The storage account of the manifest's azureBlob lock (optional: it must repeat the "
                          "manifest's lock, which every run takes)."),
        click.option("--lock-region", metavar="REGION", help="The region of --lock-table."),
        click.option("--lock-table", metavar="TABLE",
                     help="The table of the manifest's dynamodb lock (optional: it must repeat the manifest's "
                          "lock, which every run takes)."),
    ):
        command = option(command)
    return command


def lock_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = lock_place_options(function)
    return click.option("--lock-timeout", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
                        help="How long to wait for another run holding the key set's lock to finish.")(function)


def lock_for(key_set: KeySet, sandbox: Path | None, place: LockFlags) -> Lock:
    """The key set's one lock: the shared one its manifest declares, else the local lock file.

    Lock flags only repeat the declaration; naming another lock is refused before anything connects.
    """
    from reconciler.core.lock import LocalLock, default_directory
    from reconciler.usecases.locking import declared_lock

    setting = declared_lock(key_set, place)
    if setting is None:
        return LocalLock(default_directory(sandbox, command_settings()), key_set.name)
    if setting.blob_account is not None:
        from reconciler.providers.azure_blob_lock import CONNECTION_STRING_VARIABLE, BlobLeaseLock

        return BlobLeaseLock(setting.blob_account, str(setting.blob_container), setting.blob_name, key_set.name,
                             connection_string=command_settings().get(CONNECTION_STRING_VARIABLE) or "")
    from reconciler.providers.aws_lock import DynamoDbLock

    return DynamoDbLock(str(setting.dynamodb_table), str(setting.dynamodb_region), key_set.name)


@click.group("lock")
def lock_group() -> None:
    """The lock that keeps two applies of one key set apart.

    \b
    Examples:
      cmkctl lock break -f cmk/ --id 6f1c...
    """


@lock_group.command("break")
@manifests_option(help="The manifest of the key set (a file or folder, or - for standard input).")
@click.option("--id", "lock_id", help="Break it only if this is still its lock id (printed by the waiting apply).")
@sandbox_option
@lock_place_options
@debug_options
def lock_break(paths: Sequence[str], lock_id: str | None, sandbox: Path | None, lock_place: LockFlags, debug: bool,
               debug_file: Path | None) -> int:
    """Remove a stale shared lock left by a run that died holding it. Never done implicitly.

    \b
    Examples:
      cmkctl lock break -f cmk/ --id 6f1c...
    """
    from reconciler.usecases.locking import break_lock

    configure_wire(debug, debug_file, None)
    key_set, _ = load_key_set(paths)
    lock = lock_for(key_set, sandbox, lock_place)
    broken = break_lock(key_set.name, lock, lock_id)
    if broken is None:
        click.echo(f"{key_set.name} is not locked ({lock.where}).")
    else:
        click.echo(f"Broke the lock on {key_set.name} in {lock.where}, held by {broken.describe()}.")
    return EXIT_OK
