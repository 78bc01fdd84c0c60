"""One retry policy for what the SDKs do not retry themselves: backoff with jitter, bounded by time.

Each kind of wait has a budget of its own (`WaitBudgets`), counted from the first time that kind
of answer came back in the call: throttling, 5xx and dropped connections (`transient`); a principal
made moments ago that Azure RBAC cannot see yet (`principal`); a grant made moments ago that a
service cannot use yet, or is still validating (`grant`). No count of attempts stops a wait before
its budget: the budgets are the documented propagation times, not a guess at how many tries they
take. Every wait goes through the run's clock, and is told to `on_wait` before it starts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from reconciler.core.clock import SYSTEM_CLOCK, Clock
from reconciler.core.errors import ProviderError, TransientError

T = TypeVar("T")

KINDS = ("transient", "principal", "grant")


@dataclass(frozen=True)
class WaitBudgets:
    """How long each kind of wait may last, in seconds (README, "Retries and waits": each default's source)."""

    # Throttling, 5xx, dropped connections: past five minutes, the user deserves an answer.
    transient: float = 5 * 60
    # Terraform's azurerm provider retries PrincipalNotFound for its role assignment's create timeout, 30 minutes.
    principal: float = 30 * 60
    # Key Vault's RBAC guide: a role assignment may take up to 10 minutes to take effect.
    grant: float = 10 * 60

    def of(self, kind: str) -> float:
        seconds: float = getattr(self, kind)
        return seconds

    def changed(self, budgets: Mapping[str, float]) -> WaitBudgets:
        return replace(self, **dict(budgets))


DEFAULT_BUDGETS = WaitBudgets()

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
# A wait of more than a day is no longer a wait for propagation.
MAX_BUDGET = 24 * 3600


def parse_budget(text: str) -> tuple[str, float]:
    """`KIND=DURATION` (`grant=15m`, `principal=1h`, `transient=90s`): the kind and its seconds.

    ValueError with a sentence saying what is expected.
    """
    kind, equals, duration = text.partition("=")
    kind = kind.strip()
    if not equals or kind not in KINDS:
        raise ValueError(f"{text!r}: expected KIND=DURATION, KIND one of {', '.join(KINDS)}")
    found = _DURATION.match(duration.strip())
    if found is None or not any(found.groupdict().values()):
        raise ValueError(f"{text!r}: a duration is hours, minutes and seconds, as 90s, 15m, 1h or 1h30m")
    seconds = sum(int(found[unit] or 0) * scale for unit, scale in (("h", 3600), ("m", 60), ("s", 1)))
    if not 0 < seconds <= MAX_BUDGET:
        raise ValueError(f"{text!r}: a budget is more than 0s and at most 24h")
    return kind, float(seconds)


def format_duration(seconds: float) -> str:
    """`45s`, `2m10s`, `10m`, `1h30m`: as the flag takes them."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Wait:
    """One wait, as the progress shows it: what for, since when, up to when, and the last answer."""

    subject: str    # the address waited on, or what the call does when it has none
    awaiting: str   # "the grant on vault kv1 to reach Key Vault"
    kind: str       # the budget: transient, principal, grant
    elapsed: float  # seconds waited for this kind so far in the call
    budget: float
    delay: float    # the wait about to start
    answer: str     # the service's last answer

    def describe(self) -> str:
        return f"waiting for {self.awaiting}: {format_duration(self.elapsed)} of up to {format_duration(self.budget)}"


# The clouds' planes; each plug-in names its own (RetryPolicy.plane_names).
PLANE_NAMES = {"arm": "Azure Resource Manager", "graph": "Microsoft Graph", "keyvault": "Key Vault", "aws": "AWS"}


def _default_awaiting(error: TransientError, plane_names: Mapping[str, str]) -> str:
    return error.awaiting or f"{plane_names.get(error.plane, 'the service')} to answer"


# A budget's remainder below this is the rounding of summed sleeps, not time worth another try.
ROUNDING = 1e-6


@dataclass
class _Waited:
    """How long one kind of wait has lasted in a call: by the run's clock, but never more than the calling
    thread's own time on it (its real time and its own sleeps, the LRO polls of its tries included). A
    clock that other waits move on too (the emulator's: a sleep moves its time on for every thread)
    would otherwise spend this wait's budget in fewer tries than real time gives it; on the system clock
    the two are the same."""

    clock_start: float
    thread_start: float

    def spent(self, clock: Clock) -> float:
        return min(clock.monotonic() - self.clock_start, clock.thread_time() - self.thread_start)


@dataclass
class RetryPolicy:
    clock: Clock = SYSTEM_CLOCK
    budgets: WaitBudgets = DEFAULT_BUDGETS
    base_delay: float = 1.0
    max_delay: float = 30.0
    on_wait: Callable[[Wait], None] = field(default=lambda wait: None)
    rng: random.Random = field(default_factory=random.Random)
    # What each plane is called in a message ("waiting for Key Vault to answer").
    plane_names: Mapping[str, str] = field(default_factory=lambda: PLANE_NAMES)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # Half the backoff fixed, half random: spread out, and never a burst of near-zero retries.
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(attempt, 30))
        return max(self.rng.uniform(ceiling / 2, ceiling), retry_after or 0.0)

    def call(self, operation: Callable[[], T], *, what: str, subject: str = "") -> T:
        waited: dict[str, _Waited] = {}
        attempts: dict[str, int] = {}
        while True:
            try:
                return operation()
            except TransientError as error:
                kind = error.awaited
                now = self.clock.monotonic()
                watch = waited.setdefault(kind, _Waited(now, self.clock.thread_time()))
                spent = watch.spent(self.clock)
                budget = self.budgets.of(kind)
                if spent >= budget - ROUNDING:
                    raise _gave_up(error, what, spent, budget, self.plane_names) from error
                delay = min(self.delay(attempts.get(kind, 0), error.retry_after), budget - spent)
                attempts[kind] = attempts.get(kind, 0) + 1
                awaited = _default_awaiting(error, self.plane_names)
                self.on_wait(Wait(subject or what, awaited, kind, spent, budget, delay, str(error)))
                self.clock.sleep(delay)


def _gave_up(error: TransientError, what: str, spent: float, budget: float,
             plane_names: Mapping[str, str]) -> ProviderError:
    text = (f"{what}: gave up waiting for {_default_awaiting(error, plane_names)} after {format_duration(spent)} (the "
            f"{error.awaited} budget is {format_duration(budget)}; --wait {error.awaited}=DURATION changes it). "
            f"Last answer: {error}")
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
