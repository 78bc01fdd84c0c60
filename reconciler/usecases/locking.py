"""Break a stale lock: only when asked, and never a local one (the system releases it with its holder)."""

from __future__ import annotations

from typing import Any

from reconciler.core.lock import Holder, LockError


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
