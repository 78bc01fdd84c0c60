"""One retry policy for what the SDKs do not retry themselves: backoff with jitter, bounded."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.core.errors import KeyAccessPendingError, ProviderError, TransientError

T = TypeVar("T")


def sleep(seconds: float) -> None:
    """The one place cmkctl's own retries wait; tests replace it to run without real waiting."""
    time.sleep(seconds)


@dataclass
class RetryPolicy:
    max_attempts: int = 10
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Past this, waiting longer is unlikely to help and the user deserves an answer.
    max_total: float = 300.0
    # A key vault refusing a service (403) is usually a grant propagating, which takes a minute or
    # two; a grant that is missing looks the same and must not be waited on for the full bound.
    access_max_total: float = 120.0
    sleep: Callable[[float], None] = field(default=lambda seconds: sleep(seconds))
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self.rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
        return max(backoff, retry_after or 0.0)

    def call(self, operation: Callable[[], T], *, what: str) -> T:
        started = self.clock()
        for attempt in range(self.max_attempts):
            try:
                return operation()
            except TransientError as error:
                delay = self.delay(attempt, error.retry_after)
                spent = self.clock() - started
                if attempt + 1 == self.max_attempts or spent + delay > self._bound(error):
                    raise _gave_up(error, what, attempt + 1, spent) from error
                self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _bound(self, error: TransientError) -> float:
        return min(self.access_max_total, self.max_total) if isinstance(error, KeyAccessPendingError) \
            else self.max_total


def _gave_up(error: TransientError, what: str, attempts: int, spent: float) -> ProviderError:
    if isinstance(error, KeyAccessPendingError):
        text = (f"{what}: the key vault still refuses access to the key after {attempts} attempts over "
                f"{spent:.0f}s: check the grant (a role assignment or access policy for the service's "
                f"identity). Last answer: {error}")
    else:
        text = f"{what}: gave up after {attempts} attempts over {spent:.0f}s: {error}"
    return ProviderError(text, plane=error.plane, code=error.code, status=error.status)


class Retrying:
    """Every method of `target` called through `policy` (for listings made outside the planner's walk)."""

    def __init__(self, target: Any, policy: RetryPolicy) -> None:
        self._target = target
        self._policy = policy

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def called(*args: Any, **kwargs: Any) -> Any:
            return self._policy.call(lambda: attribute(*args, **kwargs), what=name.replace("_", " "))

        return called
