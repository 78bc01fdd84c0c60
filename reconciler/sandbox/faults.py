"""The seam where faults (latency, throttling, 5xx) are injected, per control plane.

An injector sees each authenticated request before the plane does and may answer in its place;
its answer is recorded in calls.jsonl but never changes the state. It runs outside the state lock,
so an injected delay slows only its own request.
"""

from __future__ import annotations

from typing import Protocol

from reconciler.sandbox.wire import Reply, Request


class FaultInjector(Protocol):
    def before(self, plane: str, request: Request) -> Reply | None:
        """A reply to send instead of the plane's, or None to let the request through."""
        ...
