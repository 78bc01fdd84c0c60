"""The key set's one lock: which it is, and breaking a stale one (only when asked, never a local one)."""

from __future__ import annotations

from typing import Any

from reconciler.core.lock import Holder, LockError, LockFlags
from reconciler.manifest.model import KeySet, LockSetting


def declared_lock(key_set: KeySet, flags: LockFlags) -> LockSetting | None:
    """The shared lock every run of `key_set` takes: the one its manifest declares (None: the local lock).

    A key set has one lock, whoever runs it and from wherever. Flags may only repeat the
    declaration: a run under a lock of its own choosing (a table named on one machine, the local
    file on another) would not wait for the runs under the declared one, and both would apply at once.
    """
    declared = key_set.lock
    if not flags.given:
        return declared
    if declared is None:
        raise LockError(
            f"key set {key_set.name} declares no shared lock, so its other runs (a laptop, another CI job) take "
            f"the local lock of their own machine and would not wait for this one: declare the lock in the "
            f"manifest instead, `lock: {_as_yaml(flags)}`, so that every run takes it, and drop "
            f"{', '.join(_given(flags))}; nothing was read or changed")
    other = [f"{flag} {value}" for flag, value, wanted in _compared(flags, declared, key_set.name)
             if value is not None and value != wanted]
    if other:
        raise LockError(
            f"key set {key_set.name} declares its lock at {declared.declared_at or key_set.file}: "
            f"{describe(declared, key_set.name)}; {', '.join(other)} names another lock. A key set has one lock, "
            "whoever runs it: drop the flag (the declared lock is taken without it), or change the manifest's "
            "`lock:` for every run; nothing was read or changed")
    return declared


def describe(setting: LockSetting, key_set: str) -> str:
    if setting.blob_account is not None:
        return (f"blob {setting.blob_container}/{setting.blob_name or _default_blob(key_set)} in storage account "
                f"{setting.blob_account}")
    return f"DynamoDB table {setting.dynamodb_table} in {setting.dynamodb_region}"


def _compared(flags: LockFlags, declared: LockSetting, key_set: str) -> list[tuple[str, str | None, str | None]]:
    """(flag, its value, the declared value it must repeat)."""
    blob = declared.blob_name or (_default_blob(key_set) if declared.blob_account else None)
    return [("--lock-table", flags.table, declared.dynamodb_table),
            ("--lock-region", flags.region, declared.dynamodb_region),
            ("--lock-blob-account", flags.blob_account, declared.blob_account),
            ("--lock-blob-container", flags.blob_container, declared.blob_container),
            ("--lock-blob", flags.blob, blob)]


def _given(flags: LockFlags) -> list[str]:
    return [flag for flag, value, _ in _compared(flags, LockSetting(), "") if value is not None]


def _as_yaml(flags: LockFlags) -> str:
    if flags.blob_account is not None or flags.blob_container is not None or flags.blob is not None:
        blob = f", blob: {flags.blob}" if flags.blob else ""
        return (f"{{azureBlob: {{account: {flags.blob_account or 'ACCOUNT'}, "
                f"container: {flags.blob_container or 'CONTAINER'}{blob}}}}}")
    return f"{{dynamodb: {{table: {flags.table or 'TABLE'}, region: {flags.region or 'REGION'}}}}}"


def _default_blob(key_set: str) -> str:
    from reconciler.providers.azure_blob_lock import default_blob

    return default_blob(key_set)


def break_lock(key_set: str, lock: Any, lock_id: str | None) -> Holder | None:
    """The holder whose lock was broken; None when the key set was not locked."""
    if hasattr(lock, "break_lock"):
        broken: Holder | None = lock.break_lock(lock_id)
        return broken
    probe = Holder.me(key_set)
    holder = lock.try_acquire(probe)
    if holder is None:
        lock.release(probe)
        return None
    raise LockError(f"{key_set} is locked by a running apply: {holder.describe()}. A local lock is "
                    "released by the system when its holder exits, however it exits; it cannot be stale, "
                    "and cmkctl does not break it")
